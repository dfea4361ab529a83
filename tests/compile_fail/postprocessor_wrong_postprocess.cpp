// expect: spool::Postprocessor: the postprocessor has `postprocess`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A postprocessor that returns bool.
struct my_policy {
    using spool_concept = spool::postprocessor_tag;
    bool postprocess(spool::postprocessing<spool::message>&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
