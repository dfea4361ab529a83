// expect: spool::Clock: the clock has `now`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A clock whose now is not const.
struct my_policy {
    using spool_concept = spool::clock_tag;
    spool::time_point now();
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
