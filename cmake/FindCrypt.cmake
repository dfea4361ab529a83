# FindCrypt: libcrypt (libxcrypt; Debian's libcrypt-dev), for crypt_r and
# crypt_gensalt_rn. Defines Crypt::Crypt.
find_path(Crypt_INCLUDE_DIR NAMES crypt.h)
find_library(Crypt_LIBRARY NAMES crypt)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Crypt REQUIRED_VARS Crypt_LIBRARY Crypt_INCLUDE_DIR)
if(Crypt_FOUND AND NOT TARGET Crypt::Crypt)
  add_library(Crypt::Crypt UNKNOWN IMPORTED)
  set_target_properties(Crypt::Crypt PROPERTIES
    IMPORTED_LOCATION "${Crypt_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Crypt_INCLUDE_DIR}")
endif()
mark_as_advanced(Crypt_INCLUDE_DIR Crypt_LIBRARY)
