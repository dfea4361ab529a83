// expect: spool::OutboundHook: the hook is missing `finishing`
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// An outbound hook without finishing.
struct my_policy {
    using spool_concept = spool::outbound_hook_tag;
    int unrelated = 0;
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
