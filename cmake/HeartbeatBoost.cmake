# heartbeat::heartbeat_boost: the same headers over Boost.Asio. A target of its own, defining
# HEARTBEAT_USE_BOOST_ASIO, rather than a macro that changes what heartbeat::heartbeat means.
# Defined when Boost 1.79 or later (Asio 1.22) is found; Boost is never fetched.

include_guard(GLOBAL)

find_package(Boost 1.79 CONFIG QUIET)
if(NOT Boost_FOUND OR NOT TARGET Boost::headers)
    message(STATUS "heartbeat: Boost 1.79 or later not found; "
                   "heartbeat::heartbeat_boost is not defined")
    return()
endif()
message(STATUS "heartbeat: Boost ${Boost_VERSION}: defining heartbeat::heartbeat_boost")

add_library(heartbeat_boost INTERFACE)
add_library(heartbeat::heartbeat_boost ALIAS heartbeat_boost)
target_compile_features(heartbeat_boost INTERFACE cxx_std_17)
target_include_directories(heartbeat_boost INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_definitions(heartbeat_boost INTERFACE HEARTBEAT_USE_BOOST_ASIO)
target_link_libraries(heartbeat_boost INTERFACE Boost::headers Threads::Threads)
