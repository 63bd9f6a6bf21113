# cmake -P run.cmake: builds and runs the consumer in this directory against heartbeat.
#   MODE=find_package      installs HEARTBEAT_BINARY_DIR into WORK_DIR/prefix, then
#                          find_package(heartbeat CONFIG REQUIRED) with only that prefix
#   MODE=pkg_config        the same install, found through pkg-config's heartbeat.pc
#   MODE=add_subdirectory  add_subdirectory(HEARTBEAT_SOURCE_DIR)
#   MODE=boost_find_package  as find_package, with COMPONENTS boost and heartbeat_boost
# Registered as CTest tests by cmake/HeartbeatPackageTests.cmake.

foreach(var MODE HEARTBEAT_SOURCE_DIR HEARTBEAT_BINARY_DIR HEARTBEAT_VERSION WORK_DIR GENERATOR
            CXX_COMPILER)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "run.cmake: -D${var}=... is required")
    endif()
endforeach()

function(run what)
    message(STATUS "package test (${MODE}): ${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "package test (${MODE}): ${what} failed (${rc})")
    endif()
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

set(config_args)
if(CONFIG)
    set(config_args --config "${CONFIG}")
endif()

set(consumer_args
    "-DHEARTBEAT_TEST_MODE=${MODE}"
    "-DHEARTBEAT_EXPECTED_VERSION=${HEARTBEAT_VERSION}"
    "-DHEARTBEAT_ASIO_INCLUDE_DIR=${ASIO_INCLUDE_DIR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON")
if(MAKE_PROGRAM)
    list(APPEND consumer_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CONFIG)
    list(APPEND consumer_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()

if(MODE STREQUAL "add_subdirectory")
    list(APPEND consumer_args "-DHEARTBEAT_SOURCE_DIR=${HEARTBEAT_SOURCE_DIR}")
elseif(MODE MATCHES "^(find_package|pkg_config|boost_find_package)$")
    run("install into ${prefix}"
        "${CMAKE_COMMAND}" --install "${HEARTBEAT_BINARY_DIR}" --prefix "${prefix}" ${config_args})
    list(APPEND consumer_args "-DCMAKE_PREFIX_PATH=${prefix}")
    if(MODE STREQUAL "pkg_config")
        if(NOT PKGCONFIG_DIR)
            set(PKGCONFIG_DIR share/pkgconfig)
        endif()
        set(ENV{PKG_CONFIG_PATH} "${prefix}/${PKGCONFIG_DIR}")
    endif()
else()
    message(FATAL_ERROR "run.cmake: unknown MODE '${MODE}'")
endif()

run("configure the consumer"
    "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${build}" -G "${GENERATOR}"
    ${consumer_args})
run("build the consumer" "${CMAKE_COMMAND}" --build "${build}" ${config_args})

set(exe "${build}/heartbeat_consumer")
if(CONFIG AND EXISTS "${build}/${CONFIG}/heartbeat_consumer")
    set(exe "${build}/${CONFIG}/heartbeat_consumer")
endif()
run("run the consumer" "${exe}")
