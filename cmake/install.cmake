# SPDX-License-Identifier: Apache-2.0
# Install rules: the libraries, the public headers, the CMake package
# (lockstepConfig.cmake + version file + exported targets), lockstep.pc, the
# CLI and the operator's files. `cmake --install build --prefix DIR`.
include(CMakePackageConfigHelpers)

set(LOCKSTEP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lockstep)

install(TARGETS lockstep_lib lockstep_openssl_lib lockstep_sodium_lib lockstep_net_lib EXPORT lockstepTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lockstep ${PROJECT_BINARY_DIR}/include/lockstep
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT lockstepTargets NAMESPACE lockstep:: DESTINATION ${LOCKSTEP_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lockstepConfig.cmake.in
  ${PROJECT_BINARY_DIR}/lockstepConfig.cmake INSTALL_DESTINATION ${LOCKSTEP_CMAKE_DIR})
# Before 1.0 only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lockstepConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lockstepConfig.cmake ${PROJECT_BINARY_DIR}/lockstepConfigVersion.cmake
  DESTINATION ${LOCKSTEP_CMAKE_DIR} COMPONENT dev)

# lockstep.pc, relocatable (prefix found from the .pc file's own place). With
# static libraries a C program must also link OpenSSL, the C++ runtime and pthreads.
file(RELATIVE_PATH LOCKSTEP_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
if(BUILD_SHARED_LIBS)
  set(LOCKSTEP_PC_REQUIRES_SUFFIX ".private")
  set(LOCKSTEP_PC_LIBS "")
else()
  set(LOCKSTEP_PC_REQUIRES_SUFFIX "")
  set(LOCKSTEP_PC_LIBS "-lstdc++ -lpthread")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/lockstep.pc.in ${PROJECT_BINARY_DIR}/lockstep.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/lockstep.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

if(LOCKSTEP_TOOLS)
  install(TARGETS lockstep RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  # The operator's files (packaging/): lockstep(1), bash completion, the service unit.
  set(VERSION ${PROJECT_VERSION})
  configure_file(${PROJECT_SOURCE_DIR}/packaging/lockstep.1 ${PROJECT_BINARY_DIR}/lockstep.1 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/lockstep.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/lockstep.bash-completion
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME lockstep COMPONENT runtime)
  # Under the prefix: /usr/lib/systemd/system, where systemd looks for packaged units.
  set(LOCKSTEP_UNIT_DIR lib/systemd/system CACHE STRING "Where the systemd unit goes (relative: under the prefix)")
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/lockstep-serve@.service DESTINATION ${LOCKSTEP_UNIT_DIR}
    COMPONENT runtime)
  # The Wireshark dissector, where Wireshark loads global Lua plugins on Debian.
  if(CMAKE_LIBRARY_ARCHITECTURE)
    set(lockstep_ws_default lib/${CMAKE_LIBRARY_ARCHITECTURE}/wireshark/plugins)
  else()
    set(lockstep_ws_default lib/wireshark/plugins)
  endif()
  set(LOCKSTEP_WIRESHARK_DIR ${lockstep_ws_default} CACHE STRING "Where the Wireshark Lua dissector goes")
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/wireshark/lockstep.lua DESTINATION ${LOCKSTEP_WIRESHARK_DIR}
    COMPONENT runtime)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/CHANGELOG.md ${PROJECT_SOURCE_DIR}/README.md
    DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
endif()

# ---- make deb: one Debian package (CPack DEB) with everything above: the
# libraries, headers, CMake and pkg-config files, the CLI, the man page, the
# completion, the unit and the Wireshark dissector. Dependencies from dpkg-shlibdeps.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lockstep)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "lockstep maintainers <lockstep@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "small secure channel for devices: library, C API, CLI and server")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "")
# The dissector runs in Wireshark and decrypts with luaossl (Lua 5.2 bindings of OpenSSL).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libssl-dev, pkg-config, cmake, wireshark | tshark, lua-luaossl")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/deb)
include(CPack)
