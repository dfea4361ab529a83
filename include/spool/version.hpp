#pragma once

// The single place the version is written; CMake reads it from here.
#define SPOOL_VERSION_MAJOR 0
#define SPOOL_VERSION_MINOR 1
#define SPOOL_VERSION_PATCH 0

namespace spool {
inline constexpr int version_major = SPOOL_VERSION_MAJOR;
inline constexpr int version_minor = SPOOL_VERSION_MINOR;
inline constexpr int version_patch = SPOOL_VERSION_PATCH;
} // namespace spool
