include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SPOOL_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/spool"
  CACHE STRING "Where spool's CMake package files are installed")
mark_as_advanced(SPOOL_INSTALL_CMAKEDIR)

install(TARGETS spool_spool EXPORT spoolTargets FILE_SET HEADERS)
install(EXPORT spoolTargets NAMESPACE spool:: DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
if(SPOOL_WITH_SQLITE)
  # Its own export set, so that users who do not want SQLite do not need it.
  install(TARGETS spool_sqlite EXPORT spoolSqliteTargets FILE_SET HEADERS)
  install(EXPORT spoolSqliteTargets NAMESPACE spool:: DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
endif()

if(SPOOL_WITH_SMTP)
  install(TARGETS spool_smtp EXPORT spoolSmtpTargets FILE_SET HEADERS)
  install(EXPORT spoolSmtpTargets NAMESPACE spool:: DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
endif()

if(SPOOL_WITH_POSTGRES)
  install(TARGETS spool_postgres EXPORT spoolPostgresTargets FILE_SET HEADERS)
  install(EXPORT spoolPostgresTargets NAMESPACE spool:: DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
endif()

configure_package_config_file(cmake/spoolConfig.cmake.in "${PROJECT_BINARY_DIR}/spoolConfig.cmake"
  INSTALL_DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")
# 0.x: a minor version may break the API.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/spoolConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/spoolConfig.cmake" "${PROJECT_BINARY_DIR}/spoolConfigVersion.cmake"
  DESTINATION "${SPOOL_INSTALL_CMAKEDIR}")

# For build systems other than CMake. Header-only, so it is arch-independent.
configure_file(cmake/spool.pc.in "${PROJECT_BINARY_DIR}/spool.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/spool.pc" DESTINATION "${CMAKE_INSTALL_DATADIR}/pkgconfig")
