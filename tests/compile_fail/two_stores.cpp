// expect: spool::spooler: compose exactly one Store
#include <spool/spool.hpp>

spool::spooler<spool::memory_store, spool::memory_store, spool::memory_transport> sp;
