// expect: spool::Preprocessor: the preprocessor has `preprocess`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A preprocessor that takes the message, not the job.
struct my_policy {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types() const;
    void preprocess(spool::message&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
