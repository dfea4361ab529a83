// expect: spool::Preprocessor: the preprocessor has `address_types`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A preprocessor whose address_types is not const.
struct my_policy {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types();
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
