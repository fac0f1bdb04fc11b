# FindOpenBLAS.cmake - locates OpenBLAS's cblas.h and shared library.
#
# Hints: OPENBLAS_ROOT (a folder holding include/cblas.h and libopenblas.so*, e.g. the unpacked
# org.bytedeco:openblas jar that the Maven build provides), then the system's usual paths
# (Debian's libopenblas-dev).
#
# Defines: OpenBLAS_FOUND, OpenBLAS_INCLUDE_DIR, OpenBLAS_LIBRARY and the imported target
# OpenBLAS::OpenBLAS.
# A given OPENBLAS_ROOT is searched alone first: a cross build must not pick the build machine's.
if(OPENBLAS_ROOT)
  find_path(OpenBLAS_INCLUDE_DIR cblas.h PATHS ${OPENBLAS_ROOT} PATH_SUFFIXES include
    NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
  find_library(OpenBLAS_LIBRARY NAMES libopenblas.so.0 openblas PATHS ${OPENBLAS_ROOT} PATH_SUFFIXES lib
    NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
endif()
find_path(OpenBLAS_INCLUDE_DIR cblas.h
  HINTS ${OPENBLAS_ROOT} ENV OPENBLAS_ROOT
  PATH_SUFFIXES include include/openblas include/x86_64-linux-gnu/openblas-pthread)
find_library(OpenBLAS_LIBRARY
  NAMES openblas libopenblas.so.0
  HINTS ${OPENBLAS_ROOT} ENV OPENBLAS_ROOT
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu/openblas-pthread)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenBLAS REQUIRED_VARS OpenBLAS_LIBRARY OpenBLAS_INCLUDE_DIR)

if(OpenBLAS_FOUND AND NOT TARGET OpenBLAS::OpenBLAS)
  add_library(OpenBLAS::OpenBLAS SHARED IMPORTED)
  set_target_properties(OpenBLAS::OpenBLAS PROPERTIES
    IMPORTED_LOCATION "${OpenBLAS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIR}")
  get_filename_component(OpenBLAS_LIBRARY_DIR "${OpenBLAS_LIBRARY}" DIRECTORY)
endif()
mark_as_advanced(OpenBLAS_INCLUDE_DIR OpenBLAS_LIBRARY)
