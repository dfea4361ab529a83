// expect: spool::spooler: compose exactly one Store
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// No store at all.
spool::spooler<spool::memory_transport> sp;
