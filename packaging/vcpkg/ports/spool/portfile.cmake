# An overlay port that builds the spool sources it is part of (see
# vcpkg-configuration.json at the root). A port for the vcpkg registry would
# fetch a release instead, with vcpkg_from_github(REF "v${VERSION}").
set(VCPKG_BUILD_TYPE release) # header-only: one install serves every configuration
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)

vcpkg_check_features(OUT_FEATURE_OPTIONS feature_options FEATURES sqlite SPOOL_WITH_SQLITE smtp SPOOL_WITH_SMTP postgres SPOOL_WITH_POSTGRES)

# Exactly the install the consumer tests in tests/ verify: no tests, no examples.
vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DSPOOL_BUILD_TESTS=OFF
    -DSPOOL_BUILD_EXAMPLES=OFF
    -DSPOOL_BUILD_BENCHMARKS=OFF
    -DSPOOL_BUILD_SPOOLCTL=OFF
    -DSPOOL_INSTALL=ON
    ${feature_options})
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/spool)
vcpkg_fixup_pkgconfig()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
# No licence has been chosen for spool yet; this must be settled before publishing.
file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "spool: no licence has been chosen yet.\n")
