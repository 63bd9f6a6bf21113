# Install rules: the headers, the exported targets heartbeat::heartbeat (and
# heartbeat::heartbeat_boost when defined) with their package config and version files
# (find_package(heartbeat CONFIG)), and heartbeat.pc (standalone Asio) for pkg-config.
# The library is header-only, so everything goes to architecture-independent directories.

include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(HEARTBEAT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/heartbeat"
    CACHE STRING "Where heartbeatConfig.cmake is installed, relative to the prefix")
set(HEARTBEAT_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where heartbeat.pc is installed, relative to the prefix")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/heartbeat"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")
install(TARGETS heartbeat EXPORT heartbeatTargets)
install(EXPORT heartbeatTargets
        NAMESPACE heartbeat::
        DESTINATION "${HEARTBEAT_INSTALL_CMAKEDIR}")
if(TARGET heartbeat_boost)
    # Its own export set: the config loads it only for find_package(... COMPONENTS boost).
    install(TARGETS heartbeat_boost EXPORT heartbeatBoostTargets)
    install(EXPORT heartbeatBoostTargets
            NAMESPACE heartbeat::
            DESTINATION "${HEARTBEAT_INSTALL_CMAKEDIR}")
endif()

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/heartbeatConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/heartbeatConfig.cmake"
    INSTALL_DESTINATION "${HEARTBEAT_INSTALL_CMAKEDIR}")
# ARCH_INDEPENDENT (CMake 3.14+, below our minimum): a 32-bit consumer may use it too.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/heartbeatConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion
    ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/heartbeatConfig.cmake"
              "${PROJECT_BINARY_DIR}/heartbeatConfigVersion.cmake"
              "${CMAKE_CURRENT_LIST_DIR}/HeartbeatFindAsio.cmake"
        DESTINATION "${HEARTBEAT_INSTALL_CMAKEDIR}")

# pkg-config: paths relative to the .pc file, so the installed tree can be moved.
file(RELATIVE_PATH HEARTBEAT_PC_PREFIX
     "${CMAKE_INSTALL_PREFIX}/${HEARTBEAT_INSTALL_PKGCONFIGDIR}" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" HEARTBEAT_PC_PREFIX "\${pcfiledir}/${HEARTBEAT_PC_PREFIX}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(HEARTBEAT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
    set(HEARTBEAT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# Asio's directory is named only when the compiler would not search it anyway, and never
# when it is a copy fetched into this build tree.
set(HEARTBEAT_PC_ASIO_CFLAGS "")
if(HEARTBEAT_ASIO_FOUND AND HEARTBEAT_ASIO_INCLUDE_DIR
   AND NOT HEARTBEAT_ASIO_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    set(HEARTBEAT_PC_ASIO_CFLAGS " -I${HEARTBEAT_ASIO_INCLUDE_DIR}")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/heartbeat.pc.in" "${PROJECT_BINARY_DIR}/heartbeat.pc"
               @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/heartbeat.pc"
        DESTINATION "${HEARTBEAT_INSTALL_PKGCONFIGDIR}")
