# Third-party dependencies, all found with pkg-config. A missing one stops the
# configure step with the Debian package that provides it.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install it with 'apt-get install pkg-config' (or run scripts/deps.sh)")
endif()

# km_require_pkg(<prefix> <pkg-config module> <debian package>)
# Defines the imported target PkgConfig::<prefix>.
function(km_require_pkg prefix module debian)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR
      "knotmap needs '${module}' (pkg-config) and it was not found.\n"
      "Install it with:  sudo apt-get install ${debian}\n"
      "or run scripts/deps.sh, which installs every dependency.")
  endif()
  set(${prefix}_VERSION ${${prefix}_VERSION} PARENT_SCOPE)
endfunction()

macro(km_find_dependencies)
  set(THREADS_PREFER_PTHREAD_FLAG ON)
  find_package(Threads REQUIRED)
  km_require_pkg(LIBUSB libusb-1.0 libusb-1.0-0-dev)
  km_require_pkg(FFTW3F fftw3f libfftw3-dev)
  km_require_pkg(SQLITE3 sqlite3 libsqlite3-dev)
  km_require_pkg(LIBPNG libpng libpng-dev)
  # the report's text (DejaVu Sans, as the viewer), session/src/raster.c only
  km_require_pkg(FREETYPE freetype2 libfreetype-dev)
  if(KM_BUILD_VIEWER)
    km_require_pkg(SDL2 sdl2 libsdl2-dev)
    km_require_pkg(SDL2_TTF SDL2_ttf libsdl2-ttf-dev)
  endif()
  if(KM_BUILD_TESTS)
    km_require_pkg(CRITERION criterion libcriterion-dev)
    km_require_pkg(UMOCKDEV umockdev-1.0 libumockdev-dev)
    find_program(KM_UMOCKDEV_WRAPPER umockdev-wrapper)
    if(NOT KM_UMOCKDEV_WRAPPER)
      message(FATAL_ERROR "umockdev-wrapper not found: sudo apt-get install umockdev")
    endif()
  endif()
endmacro()
