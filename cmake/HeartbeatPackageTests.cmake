# CTest tests proving heartbeat can be consumed (cmake/test-package/run.cmake does the work):
#   package.find_package        install into a temporary prefix, find_package(heartbeat CONFIG)
#   package.pkg_config          the same install, through pkg-config (when pkg-config exists)
#   package.add_subdirectory    add_subdirectory() of this source tree
#   package.boost_find_package  the install, find_package(... COMPONENTS boost) and
#                               heartbeat::heartbeat_boost (when Boost was found)
# Each builds the small consumer in cmake/test-package and runs it.

include_guard(GLOBAL)

get_target_property(_heartbeat_asio_dirs heartbeat::asio INTERFACE_INCLUDE_DIRECTORIES)
set(_heartbeat_package_modes add_subdirectory)
if(HEARTBEAT_INSTALL)
    list(APPEND _heartbeat_package_modes find_package)
    find_program(HEARTBEAT_PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf)
    if(HEARTBEAT_PKG_CONFIG_EXECUTABLE)
        list(APPEND _heartbeat_package_modes pkg_config)
    else()
        message(STATUS "heartbeat: pkg-config not found; skipping the package.pkg_config test")
    endif()
    if(TARGET heartbeat_boost)
        list(APPEND _heartbeat_package_modes boost_find_package)
    endif()
endif()

foreach(_heartbeat_mode IN LISTS _heartbeat_package_modes)
    add_test(NAME package.${_heartbeat_mode}
        COMMAND "${CMAKE_COMMAND}"
            "-DMODE=${_heartbeat_mode}"
            "-DHEARTBEAT_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
            "-DHEARTBEAT_BINARY_DIR=${PROJECT_BINARY_DIR}"
            "-DHEARTBEAT_VERSION=${PROJECT_VERSION}"
            "-DPKGCONFIG_DIR=${HEARTBEAT_INSTALL_PKGCONFIGDIR}"
            "-DWORK_DIR=${PROJECT_BINARY_DIR}/package-test/${_heartbeat_mode}"
            "-DGENERATOR=${CMAKE_GENERATOR}"
            "-DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
            "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
            "-DASIO_INCLUDE_DIR=${_heartbeat_asio_dirs}"
            "-DCONFIG=$<CONFIG>"
            -P "${CMAKE_CURRENT_LIST_DIR}/test-package/run.cmake")
    # RUN_SERIAL: a compiler at full tilt beside them would squeeze the timing tests' slack.
    set_tests_properties(package.${_heartbeat_mode} PROPERTIES
        LABELS package
        RUN_SERIAL TRUE
        TIMEOUT 300)
endforeach()

unset(_heartbeat_mode)
unset(_heartbeat_package_modes)
unset(_heartbeat_asio_dirs)
