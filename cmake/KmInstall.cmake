# cmake --install: library (shared + static), headers, knotmap.pc, the command,
# man pages and the udev rule.
install(TARGETS knotmap_shared knotmap_static knotmap
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set_target_properties(knotmap PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

# Public headers: every part's include/knotmap/*.h.
get_property(km_parts GLOBAL PROPERTY KM_LIBRARY_PARTS)
foreach(p IN LISTS km_parts)
  get_target_property(dirs ${p} INTERFACE_INCLUDE_DIRECTORIES)
  foreach(d IN LISTS dirs)
    string(REGEX REPLACE "^\\$<BUILD_INTERFACE:(.*)>$" "\\1" d "${d}")
    if(EXISTS ${d}/knotmap)
      install(DIRECTORY ${d}/knotmap DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
    endif()
  endforeach()
endforeach()

# pkg-config: the shared library by default, the static one with --static.
# The .pc file finds its prefix from its own location: one ".." per component
# of <libdir>/pkgconfig, so the install tree can be moved.
file(TO_CMAKE_PATH "${CMAKE_INSTALL_LIBDIR}/pkgconfig" km_pc_rel)
string(REGEX REPLACE "[^/]+" ".." KM_PC_UP "${km_pc_rel}")
set(KM_PC_REQUIRES_PRIVATE "libusb-1.0 fftw3f sqlite3 libpng")
configure_file(${PROJECT_SOURCE_DIR}/cmake/knotmap.pc.in ${PROJECT_BINARY_DIR}/knotmap.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/knotmap.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
