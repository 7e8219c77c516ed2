# cmake --install: library (shared + static), headers, knotmap.pc, the command,
# man pages and the udev rule.
# Components name the Debian package each file goes to (cmake/KmPackage.cmake):
# lib = libknotmap0, dev = libknotmap-dev, cli = knotmap, python = python3-knotmap.
install(TARGETS knotmap_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS knotmap_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(TARGETS knotmap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
set_target_properties(knotmap PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

# Public headers: every part's include/knotmap/*.h.
get_property(km_parts GLOBAL PROPERTY KM_LIBRARY_PARTS)
foreach(p IN LISTS km_parts)
  get_target_property(dirs ${p} INTERFACE_INCLUDE_DIRECTORIES)
  foreach(d IN LISTS dirs)
    string(REGEX REPLACE "^\\$<BUILD_INTERFACE:(.*)>$" "\\1" d "${d}")
    if(EXISTS ${d}/knotmap)
      install(DIRECTORY ${d}/knotmap DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.h")
    endif()
  endforeach()
endforeach()

# pkg-config: the shared library by default, the static one with --static.
# The .pc file finds its prefix from its own location: one ".." per component
# of <libdir>/pkgconfig, so the install tree can be moved.
file(TO_CMAKE_PATH "${CMAKE_INSTALL_LIBDIR}/pkgconfig" km_pc_rel)
string(REGEX REPLACE "[^/]+" ".." KM_PC_UP "${km_pc_rel}")
set(KM_PC_REQUIRES_PRIVATE "libusb-1.0 fftw3f sqlite3 libpng freetype2")
configure_file(${PROJECT_SOURCE_DIR}/cmake/knotmap.pc.in ${PROJECT_BINARY_DIR}/knotmap.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/knotmap.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT dev)

# The knotmap package's share of what docs/ and hardware/ install for a plain
# `cmake --install`: man pages (gzip -9n, as Debian ships them), the udev rule
# and the scenarios. EXCLUDE_FROM_ALL: only CPack, which installs the cli
# component by name, takes these copies.
file(GLOB km_man_pages CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.1)
set(km_man_gz "")
foreach(m IN LISTS km_man_pages)
  get_filename_component(n ${m} NAME)
  set(gz ${PROJECT_BINARY_DIR}/man1/${n}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man1
    COMMAND gzip -9nc ${m} > ${gz}
    DEPENDS ${m} VERBATIM)
  list(APPEND km_man_gz ${gz})
endforeach()
add_custom_target(km_man_gz ALL DEPENDS ${km_man_gz})
install(FILES ${km_man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
  COMPONENT cli EXCLUDE_FROM_ALL)
if(KM_UDEV_RULES)
  install(FILES ${KM_UDEV_RULES} DESTINATION lib/udev/rules.d COMPONENT cli EXCLUDE_FROM_ALL)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/hardware/sim/scenarios/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/knotmap/scenarios
  COMPONENT cli EXCLUDE_FROM_ALL FILES_MATCHING PATTERN "*.ini" PATTERN "README.md")
