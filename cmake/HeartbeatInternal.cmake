# heartbeat_internal: what the project's own tests and examples compile with, and consumers of
# the library never see: warnings (HEARTBEAT_WERROR makes them errors), sanitizers
# (HEARTBEAT_SANITIZE) and (BOOST_)ASIO_NO_DEPRECATED, which keep us off Asio's deprecated API.
# Flags only: link it beside heartbeat::heartbeat or heartbeat::heartbeat_boost.

include_guard(GLOBAL)

add_library(heartbeat_internal INTERFACE)
target_compile_definitions(heartbeat_internal INTERFACE ASIO_NO_DEPRECATED BOOST_ASIO_NO_DEPRECATED)
if(WIN32)
    # The Windows version Asio targets, which it otherwise assumes with a warning: Windows 7, the
    # oldest that Asio 1.22 supports. A program of yours chooses its own.
    target_compile_definitions(heartbeat_internal INTERFACE _WIN32_WINNT=0x0601)
endif()

if(MSVC)
    target_compile_options(heartbeat_internal INTERFACE /W4 /permissive-)
    if(HEARTBEAT_WERROR)
        target_compile_options(heartbeat_internal INTERFACE /WX)
    endif()
else()
    target_compile_options(heartbeat_internal INTERFACE -Wall -Wextra -Wpedantic)
    if(HEARTBEAT_WERROR)
        target_compile_options(heartbeat_internal INTERFACE -Werror)
    endif()
endif()

if(HEARTBEAT_SANITIZE)
    if(MSVC)
        message(FATAL_ERROR "heartbeat: HEARTBEAT_SANITIZE takes -fsanitize= values (GCC, Clang)")
    endif()
    set(_heartbeat_sanitize_flags "-fsanitize=${HEARTBEAT_SANITIZE}")
    if(HEARTBEAT_SANITIZE MATCHES "undefined")
        # A UBSan report fails the test instead of scrolling past.
        list(APPEND _heartbeat_sanitize_flags "-fno-sanitize-recover=undefined")
    endif()
    target_compile_options(heartbeat_internal INTERFACE ${_heartbeat_sanitize_flags}
                                                        -fno-omit-frame-pointer)
    target_link_options(heartbeat_internal INTERFACE ${_heartbeat_sanitize_flags})
    message(STATUS "heartbeat: tests and examples built with ${_heartbeat_sanitize_flags}")
    unset(_heartbeat_sanitize_flags)
endif()
