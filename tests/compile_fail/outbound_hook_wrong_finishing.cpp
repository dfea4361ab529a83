// expect: spool::OutboundHook: the hook has `finishing`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// An outbound hook that takes something else.
struct my_policy {
    using spool_concept = spool::outbound_hook_tag;
    void finishing(const std::string&);
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
