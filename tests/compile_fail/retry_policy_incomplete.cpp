// expect: spool::RetryPolicy: the policy needs `max_lifetime\(\) const`
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A retry policy without backoff.
struct my_policy {
    using spool_concept = spool::retry_policy_tag;
    std::chrono::seconds max_lifetime() const;
};

spool::spooler<spool::memory_store, spool::memory_transport, my_policy> sp;
