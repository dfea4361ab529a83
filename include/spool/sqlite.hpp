#pragma once

// The SQLite store (target spool::sqlite): spool::sqlite_store and its options.

#include <spool/sqlite/error.hpp>
#include <spool/sqlite/store.hpp>
