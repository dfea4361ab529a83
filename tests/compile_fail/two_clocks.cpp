// expect: spool::spooler: compose at most one Clock
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// Two clocks.
spool::spooler<spool::memory_store, spool::memory_transport, spool::manual_clock, spool::system_clock> sp;
