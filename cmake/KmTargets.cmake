# Helpers every part uses, so each part's CMakeLists.txt stays a few lines.

set(KM_WARNINGS -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wvla -Wformat=2)

# Any sanitizer report in a test's output fails the test.
set(KM_SANITIZER_REPORT_REGEX "ERROR: LeakSanitizer;ERROR: AddressSanitizer;runtime error:;WARNING: ThreadSanitizer")

# Warnings for our own code only (never for third-party headers).
function(km_target_warnings tgt)
  target_compile_options(${tgt} PRIVATE ${KM_WARNINGS})
  target_compile_definitions(${tgt} PRIVATE _POSIX_C_SOURCE=200809L)
endfunction()

# km_add_part(<name> [STRICT] SOURCES ... [INCLUDE dir...] [PRIVATE_INCLUDE dir...]
#             [LINK target...] [EXTERNAL target...])
# A part of libknotmap: a static library of its own (tests link it directly, so
# they can reach km__ internals) whose objects also go into libknotmap.
# LINK: other parts; EXTERNAL: third-party imported targets.
function(km_add_part name)
  cmake_parse_arguments(A "STRICT" "" "SOURCES;INCLUDE;PRIVATE_INCLUDE;LINK;EXTERNAL" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  km_target_warnings(${name})
  if(A_STRICT)
    # Byte-level code: every narrowing must be spelled out.
    target_compile_options(${name} PRIVATE -Wconversion -Wsign-conversion)
  endif()
  target_compile_definitions(${name} PRIVATE KM_BUILDING_LIBRARY)
  foreach(d IN LISTS A_INCLUDE)
    target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${d}>)
  endforeach()
  target_include_directories(${name} PRIVATE ${A_PRIVATE_INCLUDE}
    ${PROJECT_SOURCE_DIR}/core/internal)
  target_link_libraries(${name} PUBLIC ${A_LINK} ${A_EXTERNAL})
  set_property(GLOBAL APPEND PROPERTY KM_LIBRARY_PARTS ${name})
  if(A_EXTERNAL)
    set_property(GLOBAL APPEND PROPERTY KM_LIBRARY_DEPS ${A_EXTERNAL})
  endif()
endfunction()

# km_add_test(<name> SOURCES ... [LINK ...] [LABELS ...] [TIMEOUT s] [UMOCKDEV]
#             [ENV VAR=value ...])
# One Criterion test binary, registered with ctest. UMOCKDEV runs it under
# umockdev-wrapper (the LD_PRELOAD that fakes /sys and /dev/bus/usb).
function(km_add_test name)
  cmake_parse_arguments(A "UMOCKDEV;PLAIN" "TIMEOUT" "SOURCES;LINK;LABELS;ENV;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  km_target_warnings(${name})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/core/internal
    ${PROJECT_SOURCE_DIR}/tests/common)
  target_link_libraries(${name} PRIVATE ${A_LINK} Threads::Threads m)
  if(NOT A_PLAIN)
    target_link_libraries(${name} PRIVATE PkgConfig::CRITERION)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  set(cmd $<TARGET_FILE:${name}>)
  if(NOT A_PLAIN)
    # Criterion: one worker per core at most, terse output, fail loudly.
    list(APPEND cmd --jobs=2 ${A_ARGS})
  else()
    list(APPEND cmd ${A_ARGS})
  endif()
  if(A_UMOCKDEV)
    set(cmd ${KM_UMOCKDEV_WRAPPER} ${cmd})
  endif()
  add_test(NAME ${name} COMMAND ${cmd} WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set(env "KM_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "KM_BINARY_DIR=${PROJECT_BINARY_DIR}"
          "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:verify_asan_link_order=0"
          "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
          ${A_ENV})
  # Criterion reports a test as passed before LeakSanitizer runs at the worker's
  # exit, so a leak would not change the exit status: fail on the report itself.
  set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}"
    ENVIRONMENT "${env}" FAIL_REGULAR_EXPRESSION "${KM_SANITIZER_REPORT_REGEX}")
endfunction()

# Every test_*.c in a folder becomes one Criterion binary: test_<part>_<module>.
function(km_add_tests_in_dir part)
  cmake_parse_arguments(A "UMOCKDEV" "TIMEOUT" "LINK;EXTRA_SOURCES;ENV" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_*.c)
  foreach(src IN LISTS srcs)
    get_filename_component(base ${src} NAME_WE)
    string(REGEX REPLACE "^test_" "" module ${base})
    set(extra "")
    if(A_UMOCKDEV)
      set(extra UMOCKDEV)
    endif()
    km_add_test(test_${part}_${module} SOURCES ${src} ${A_EXTRA_SOURCES}
      LINK ${A_LINK} LABELS ${part} TIMEOUT ${A_TIMEOUT} ENV ${A_ENV} ${extra})
  endforeach()
endfunction()
