# The Python module (python/) and the Debian packages (CPack DEB).
#
# Python: needs Debian's python3-dev (KM_BUILD_PYTHON). Under gcc's ASan and
# UBSan the extension is built instrumented too and its tests run python3 with
# the sanitizer runtimes preloaded (tests/python/CMakeLists.txt); not under
# TSan, nor clang's sanitizers (their runtime lives in the executable, which
# python3 is not).
if(KM_SANITIZE STREQUAL "" OR
   (CMAKE_C_COMPILER_ID STREQUAL "GNU" AND NOT KM_SANITIZE MATCHES "thread"))
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


# ------------------------------------------------------------------------
# Debian packages, by CPack from this tree (scripts/deb.sh; docs/packaging.md
# says why CPack and not debhelper). Four packages from the install
# components set in cmake/KmInstall.cmake and python/CMakeLists.txt.
# ------------------------------------------------------------------------
option(KM_PACKAGE "Build what only the Debian packages ship (the example recording)" OFF)
set(KM_DEB_RELEASE 1)
set(KM_DEB_VERSION ${PROJECT_VERSION}-${KM_DEB_RELEASE})

# Every package carries its copyright file and a changelog (gzip -9n).
configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/changelog.in
  ${PROJECT_BINARY_DIR}/debian/changelog.Debian @ONLY)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz
  COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/debian/changelog.Debian
          > ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz
  DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog.Debian VERBATIM)
add_custom_target(km_deb_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz)

set(km_deb_components lib dev cli)
set(km_deb_names libknotmap0 libknotmap-dev knotmap)
if(TARGET knotmap_python)
  list(APPEND km_deb_components python)
  list(APPEND km_deb_names python3-knotmap)
endif()
foreach(c n IN ZIP_LISTS km_deb_components km_deb_names)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
                ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${n} COMPONENT ${c} EXCLUDE_FROM_ALL)
endforeach()

# The shipped example: 4 s of the virtual mat recorded by the command itself,
# for `knotmap analyze /usr/share/knotmap/examples/tennis-ball-trapezius.kmrec`.
if(KM_PACKAGE)
  set(km_example ${PROJECT_BINARY_DIR}/examples/tennis-ball-trapezius.kmrec)
  add_custom_command(OUTPUT ${km_example}
    COMMAND ${CMAKE_COMMAND} -E env KNOTMAP_SCENARIO_DIR=${PROJECT_SOURCE_DIR}/hardware/sim/scenarios
            $<TARGET_FILE:knotmap> record --sim tennis-ball-trapezius --duration 4 --seed 1
            --fast --no-history --force -o ${km_example}
    DEPENDS knotmap ${PROJECT_SOURCE_DIR}/hardware/sim/scenarios/tennis-ball-trapezius.ini
    VERBATIM)
  add_custom_target(km_example ALL DEPENDS ${km_example})
  install(FILES ${km_example} DESTINATION ${CMAKE_INSTALL_DATADIR}/knotmap/examples
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
    COMPONENT cli EXCLUDE_FROM_ALL)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME knotmap)
set(CPACK_PACKAGE_VENDOR "knotmap developers")
set(CPACK_PACKAGE_CONTACT "knotmap developers <dev@knotmap.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/deb)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${km_deb_components})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${KM_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://knotmap.invalid/")
# dpkg-shlibdeps computes each package's library dependencies from its ELF
# files; our own library is found in the lib component's staging tree.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
  ${CPACK_PACKAGE_DIRECTORY}/_CPack_Packages/Linux/DEB/knotmap-${PROJECT_VERSION}-Linux/lib/usr/${CMAKE_INSTALL_LIBDIR})
set(km_strict "(= ${KM_DEB_VERSION})")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libknotmap0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# shlibs for packages linking libknotmap.so.0; ldconfig runs through dpkg's
# trigger (CPack also adds its own postinst/postrm ldconfig call: a lintian
# warning, not an error).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
file(WRITE ${PROJECT_BINARY_DIR}/debian/lib/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/lib/triggers)
set(CPACK_COMPONENT_LIB_DESCRIPTION "pressure mapping for finding muscle knots - shared library
libknotmap drives knotmap's pressure-mapping mat over USB (libusb), turns
its frames into kPa, finds candidate muscle knots and times holds on them
(FFTW band-pass, tracking, guarding, stiffness), and keeps crash-safe
recordings and a SQLite history. Knots are candidate tender spots, never
a diagnosis.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libknotmap-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# knotmap.pc names these in Requires.private: pkg-config needs their .pc files.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libknotmap0 ${km_strict}, libusb-1.0-0-dev, libfftw3-dev, libsqlite3-dev, libpng-dev, libfreetype-dev, pkg-config")
set(CPACK_COMPONENT_DEV_DESCRIPTION "pressure mapping for finding muscle knots - development files
Headers (knotmap/*.h), the static library and knotmap.pc for programs that
use libknotmap: the mat driver, the knot and hold analysis, recordings,
imports of other mats' files and exports.")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME knotmap)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION science)
set(CPACK_DEBIAN_CLI_PACKAGE_RECOMMENDS "fonts-dejavu-core")
set(CPACK_COMPONENT_CLI_DESCRIPTION "pressure mapping for finding muscle knots - command and viewer
The knotmap command records and replays sessions from knotmap's
pressure-mapping mat (or its virtual mat), analyses recordings and other
mats' exports (Tekscan, XSENSOR, NumPy, CSV) for candidate muscle knots and
timed holds, shows the live map (SDL2 viewer) and keeps a history. Ships
the man pages, the udev rule that gives the logged-in user the mat, the
virtual mat's scenario files and an example recording.")

set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-knotmap)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
# The extension is built for this python3 (its ABI tag is in the file name).
if(KM_PYTHON_VERSION)
  string(REPLACE "." ";" km_pyv "${KM_PYTHON_VERSION}")
  list(GET km_pyv 0 km_py_major)
  list(GET km_pyv 1 km_py_minor)
  math(EXPR km_py_next "${km_py_minor} + 1")
  set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS
    "python3 (>= ${km_py_major}.${km_py_minor}~), python3 (<< ${km_py_major}.${km_py_next}), python3-numpy, libknotmap0 ${km_strict}")
endif()
set(CPACK_COMPONENT_PYTHON_DESCRIPTION "pressure mapping for finding muscle knots - Python 3 module
The knotmap module reads every format knotmap reads into numpy arrays,
writes recordings and exports, runs knotmap's knot and hold analysis on
frames (events and spots as structured arrays) and runs the virtual mat
with its ground truth.")

include(CPack)
