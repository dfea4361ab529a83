// expect: spool::Preprocessor: the preprocessor is missing `preprocess`
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A preprocessor without preprocess.
struct my_policy {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types() const;
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
