// expect: spool::Store: the store is missing `save`
// check_store on a store that lacks an operation names that operation first.
#define SPOOL_TEST_WITHOUT_SAVE
#include "store_parts.hpp"

#include <spool/testing/store_conformance.hpp>

auto failures = spool::testing::check_store([] { return my_store{}; });
