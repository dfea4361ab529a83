// expect: spool::Postprocessor: the postprocessor is missing `postprocess`
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A postprocessor without postprocess.
struct my_policy {
    using spool_concept = spool::postprocessor_tag;
    int unrelated = 0;
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
