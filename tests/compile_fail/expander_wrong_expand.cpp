// expect: spool::Expander: the expander has `expand`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// An expander that returns a vector, not an optional one.
struct my_policy {
    using spool_concept = spool::expander_tag;
    std::vector<spool::recipient> expand(const spool::recipient&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
