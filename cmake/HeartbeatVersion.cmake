# Reads the library's version from include/heartbeat/version.hpp, where it is written once.
# Sets HEARTBEAT_VERSION (MAJOR.MINOR.PATCH). Included before project(), which takes it.

file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../include/heartbeat/version.hpp" _heartbeat_version_lines
     REGEX "^#define HEARTBEAT_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
foreach(_heartbeat_part MAJOR MINOR PATCH)
    set(_heartbeat_${_heartbeat_part} "")
    foreach(_heartbeat_line IN LISTS _heartbeat_version_lines)
        if(_heartbeat_line MATCHES "^#define HEARTBEAT_VERSION_${_heartbeat_part} +([0-9]+)")
            set(_heartbeat_${_heartbeat_part} "${CMAKE_MATCH_1}")
        endif()
    endforeach()
    if(_heartbeat_${_heartbeat_part} STREQUAL "")
        message(FATAL_ERROR "heartbeat: HEARTBEAT_VERSION_${_heartbeat_part} not found in "
                            "include/heartbeat/version.hpp")
    endif()
endforeach()
set(HEARTBEAT_VERSION "${_heartbeat_MAJOR}.${_heartbeat_MINOR}.${_heartbeat_PATCH}")
unset(_heartbeat_version_lines)
unset(_heartbeat_line)
unset(_heartbeat_part)
unset(_heartbeat_MAJOR)
unset(_heartbeat_MINOR)
unset(_heartbeat_PATCH)
