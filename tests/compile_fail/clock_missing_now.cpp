// expect: spool::Clock: the clock is missing `now`
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A clock without now.
struct my_policy {
    using spool_concept = spool::clock_tag;
    int unrelated = 0;
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
