# Catch2 for the tests, behind one target: heartbeat_catch2. Every test executable links it and
# gets main(), the Catch2 headers (tests pick <catch2/catch_all.hpp> or <catch2/catch.hpp> with
# __has_include), the library under test (heartbeat::heartbeat, or heartbeat::heartbeat_boost with
# HEARTBEAT_TEST_BOOST_ASIO) and the project's warning and sanitizer flags.
# Catch2 3 is preferred, then Catch2 2 (Debian 12 ships 2.13), else Catch2 3 is fetched.

include_guard(GLOBAL)

find_package(Catch2 3 CONFIG QUIET)
if(Catch2_FOUND)
    message(STATUS "heartbeat: using Catch2 ${Catch2_VERSION}")
    add_library(heartbeat_catch2 INTERFACE)
    target_link_libraries(heartbeat_catch2 INTERFACE Catch2::Catch2WithMain)
    set(HEARTBEAT_CATCH2_MAJOR 3)
else()
    find_package(Catch2 2 CONFIG QUIET)
    if(Catch2_FOUND)
        message(STATUS "heartbeat: using Catch2 ${Catch2_VERSION}")
        # Catch2 2 is header-only: compile its main() once, here.
        add_library(heartbeat_catch2 STATIC "${CMAKE_CURRENT_LIST_DIR}/catch2_main.cpp")
        target_link_libraries(heartbeat_catch2 PUBLIC Catch2::Catch2)
        set(HEARTBEAT_CATCH2_MAJOR 2)
    else()
        message(STATUS "heartbeat: Catch2 not found; fetching Catch2 v3.7.1 from GitHub")
        include(FetchContent)
        FetchContent_Declare(Catch2
            GIT_REPOSITORY https://github.com/catchorg/Catch2.git
            GIT_TAG v3.7.1
            GIT_SHALLOW TRUE)
        FetchContent_MakeAvailable(Catch2)
        list(APPEND CMAKE_MODULE_PATH "${catch2_SOURCE_DIR}/extras") # include(Catch)
        add_library(heartbeat_catch2 INTERFACE)
        target_link_libraries(heartbeat_catch2 INTERFACE Catch2::Catch2WithMain)
        set(HEARTBEAT_CATCH2_MAJOR 3)
    endif()
endif()

# The library under test: standalone Asio, or Boost.Asio with HEARTBEAT_TEST_BOOST_ASIO (the
# tests reach Asio through tests/net.hpp, which follows HEARTBEAT_USE_BOOST_ASIO).
if(HEARTBEAT_TEST_BOOST_ASIO)
    if(NOT TARGET heartbeat::heartbeat_boost)
        message(FATAL_ERROR "heartbeat: HEARTBEAT_TEST_BOOST_ASIO needs heartbeat::heartbeat_boost: "
                            "Boost 1.79 or later, and HEARTBEAT_BOOST=ON")
    endif()
    set(_heartbeat_tested heartbeat::heartbeat_boost)
    message(STATUS "heartbeat: tests built against Boost.Asio ${Boost_VERSION}")
else()
    set(_heartbeat_tested heartbeat::heartbeat)
endif()

if(HEARTBEAT_CATCH2_MAJOR EQUAL 2)
    target_compile_definitions(heartbeat_catch2 PUBLIC HEARTBEAT_CATCH2_MAJOR=2)
    target_link_libraries(heartbeat_catch2 PUBLIC ${_heartbeat_tested} heartbeat_internal)
else()
    target_compile_definitions(heartbeat_catch2 INTERFACE HEARTBEAT_CATCH2_MAJOR=3)
    target_link_libraries(heartbeat_catch2 INTERFACE ${_heartbeat_tested} heartbeat_internal)
endif()
unset(_heartbeat_tested)
