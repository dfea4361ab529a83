// expect: spool::spooler: compose at most one RetryPolicy
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// Two retry policies.
struct patient : spool::exponential_backoff {};

spool::spooler<spool::memory_store, spool::memory_transport, spool::exponential_backoff, patient> sp;
