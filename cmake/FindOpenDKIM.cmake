# FindOpenDKIM: libopendkim (Debian's libopendkim-dev), which ships neither a
# CMake package nor more than a pkg-config file. Defines OpenDKIM::OpenDKIM.
find_path(OpenDKIM_INCLUDE_DIR NAMES opendkim/dkim.h)
find_library(OpenDKIM_LIBRARY NAMES opendkim)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenDKIM REQUIRED_VARS OpenDKIM_LIBRARY OpenDKIM_INCLUDE_DIR)
if(OpenDKIM_FOUND AND NOT TARGET OpenDKIM::OpenDKIM)
  add_library(OpenDKIM::OpenDKIM UNKNOWN IMPORTED)
  set_target_properties(OpenDKIM::OpenDKIM PROPERTIES
    IMPORTED_LOCATION "${OpenDKIM_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${OpenDKIM_INCLUDE_DIR}")
endif()
mark_as_advanced(OpenDKIM_INCLUDE_DIR OpenDKIM_LIBRARY)
