#pragma once

// The PostgreSQL store (target spool::postgres): spool::postgres_store, its
// options and its error category.

#include <spool/postgres/error.hpp>
#include <spool/postgres/store.hpp>
