#pragma once

// Each failure a conformance check found, as a test failure of its own.

#include "catch.hpp"

#include <spool/testing/store_conformance.hpp>

#include <vector>

namespace spool_test {

inline void report(const std::vector<spool::testing::conformance_failure>& failures) {
    for (const auto& f : failures) FAIL_CHECK(f.check << ": " << f.problem);
    CHECK(failures.empty());
}

} // namespace spool_test
