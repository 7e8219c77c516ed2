# The Python module (python/) and the Debian packages (CPack DEB).
#
# Python: built when Debian's python3-dev is there (KM_BUILD_PYTHON, default
# ON outside sanitizer builds: an ASan-instrumented extension cannot be loaded
# into an uninstrumented python3).
if(KM_SANITIZE STREQUAL "")
  set(km_python_default ON)
else()
  set(km_python_default OFF)
endif()
option(KM_BUILD_PYTHON "Build the knotmap Python module (needs python3-dev)" ${km_python_default})
if(KM_BUILD_PYTHON AND EXISTS ${PROJECT_SOURCE_DIR}/python/CMakeLists.txt)
  # Debian's python3 (the one python3-numpy and python3-knotmap are for),
  # not whatever python3 comes first on PATH.
  if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(Python3_EXECUTABLE /usr/bin/python3)
  endif()
  add_subdirectory(python)
endif()

