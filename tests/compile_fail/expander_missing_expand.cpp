// expect: spool::Expander: the expander is missing `expand`
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// An expander without expand.
struct my_policy {
    using spool_concept = spool::expander_tag;
    int unrelated = 0;
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
