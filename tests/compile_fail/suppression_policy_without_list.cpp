// expect: spool::suppression_policy: the store keeps no suppression list
#include <spool/spool.hpp>

// The in-memory store keeps no suppression list, so the policy has nothing to consult.
spool::spooler<spool::memory_store, spool::memory_transport, spool::suppression_policy> sp;
