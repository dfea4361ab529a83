// expect: spool::spooler: a policy must be movable
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A store that cannot be moved, as one with a std::mutex member.
struct locked_store : spool::memory_store {
    locked_store() = default;
    locked_store(locked_store&&) = delete;
};

void make(locked_store& s) { spool::spooler<locked_store, spool::memory_transport> sp{std::move(s), spool::memory_transport{}}; }
