#pragma once

// Tests include this instead of Catch2 itself, so that they build with
// Catch2 2 (one header) and Catch2 3 (a library); CMake defines SPOOL_CATCH3.
#ifdef SPOOL_CATCH3
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Matchers::ContainsSubstring;
#else
#include <catch2/catch.hpp>
// Catch2 3 renamed Contains to ContainsSubstring; spell it the new way everywhere.
inline auto ContainsSubstring(const std::string& s) { return Catch::Matchers::Contains(s); }
#endif
