// expect: spool::Observer: the observer handles no event
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// An observer with no handler spool knows.
struct my_policy {
    using spool_concept = spool::observer_tag;
    void on_something(int);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
