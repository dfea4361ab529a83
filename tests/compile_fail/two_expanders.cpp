// expect: spool::spooler: compose at most one Expander
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// Two expanders.
struct list_a {
    using spool_concept = spool::expander_tag;
    std::optional<std::vector<spool::recipient>> expand(const spool::recipient&);
};
struct list_b : list_a {};

spool::spooler<spool::memory_store, spool::memory_transport, list_a, list_b> sp;
