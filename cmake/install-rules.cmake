include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SPOOL_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/spool"
  CACHE STRING "Where spool's CMake package files are installed")
mark_as_advanced(SPOOL_INSTALL_CMAKEDIR)

install(TARGETS spool_spool EXPORT spoolTargets FILE_SET HEADERS)
install(EXPORT spoolTargets NAMESPACE spool:: DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
# Each optional part has its own export set, so that users who do not want
# its libraries (SQLite, OpenSSL, libpq) do not need them.
foreach(part sqlite smtp postgres ops dkim web)
  if(TARGET spool_${part})
    string(SUBSTRING "${part}" 0 1 first)
    string(TOUPPER "${first}" first)
    string(SUBSTRING "${part}" 1 -1 rest)
    install(TARGETS spool_${part} EXPORT spool${first}${rest}Targets FILE_SET HEADERS)
    install(EXPORT spool${first}${rest}Targets NAMESPACE spool:: DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
  endif()
endforeach()

configure_package_config_file(cmake/spoolConfig.cmake.in "${PROJECT_BINARY_DIR}/spoolConfig.cmake"
  INSTALL_DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
# 0.x: a minor version may break the API.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/spoolConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/spoolConfig.cmake" "${PROJECT_BINARY_DIR}/spoolConfigVersion.cmake"
  cmake/FindOpenDKIM.cmake cmake/FindCrypt.cmake DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")

# For build systems other than CMake. Header-only, so it is arch-independent.
configure_file(cmake/spool.pc.in "${PROJECT_BINARY_DIR}/spool.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/spool.pc" DESTINATION "${CMAKE_INSTALL_DATADIR}/pkgconfig")
