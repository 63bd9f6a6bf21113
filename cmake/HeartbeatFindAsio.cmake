# Finds standalone Asio (asio.hpp, 1.22.0 or later) and defines the imported target
# heartbeat::asio. The build uses it, and it is installed beside heartbeatConfig.cmake so that
# consumers find Asio the same way. Point HEARTBEAT_ASIO_INCLUDE_DIR (or the environment
# variable ASIO_ROOT) at another Asio to choose it.
#
# In: HEARTBEAT_ASIO_IMPORTED_GLOBAL (make the target visible to the whole build).
# Out: HEARTBEAT_ASIO_FOUND, HEARTBEAT_ASIO_VERSION, and heartbeat_add_asio_target(<dir>).

set(HEARTBEAT_ASIO_MIN_VERSION 1.22.0)

# Defines heartbeat::asio for the Asio headers in <dir>. Standalone Asio needs no library; the
# ASIO_STANDALONE define is what its own build systems set (Debian's headers need none).
function(heartbeat_add_asio_target include_dir)
    if(TARGET heartbeat::asio)
        return()
    endif()
    if(HEARTBEAT_ASIO_IMPORTED_GLOBAL)
        add_library(heartbeat::asio INTERFACE IMPORTED GLOBAL)
    else()
        add_library(heartbeat::asio INTERFACE IMPORTED)
    endif()
    set_target_properties(heartbeat::asio PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${include_dir}"
        INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE")
    if(WIN32)
        # Asio's sockets on Windows: Winsock 2 and its Microsoft extensions (AcceptEx, ...).
        set_target_properties(heartbeat::asio PROPERTIES
            INTERFACE_LINK_LIBRARIES "ws2_32;mswsock")
    endif()
endfunction()

# The version in <dir>/asio/version.hpp as MAJOR.MINOR.PATCH, or "" when there is none.
function(heartbeat_asio_version include_dir out_var)
    set(version "")
    if(EXISTS "${include_dir}/asio/version.hpp")
        file(STRINGS "${include_dir}/asio/version.hpp" line REGEX "^#define ASIO_VERSION [0-9]+")
        if(line MATCHES "ASIO_VERSION ([0-9]+)")
            math(EXPR major "${CMAKE_MATCH_1} / 100000")
            math(EXPR minor "${CMAKE_MATCH_1} / 100 % 1000")
            math(EXPR patch "${CMAKE_MATCH_1} % 100")
            set(version "${major}.${minor}.${patch}")
        endif()
    endif()
    set(${out_var} "${version}" PARENT_SCOPE)
endfunction()

set(HEARTBEAT_ASIO_FOUND FALSE)
if(TARGET heartbeat::asio)
    set(HEARTBEAT_ASIO_FOUND TRUE)
else()
    find_path(HEARTBEAT_ASIO_INCLUDE_DIR NAMES asio.hpp
              HINTS ENV ASIO_ROOT
              PATH_SUFFIXES include asio/include
              DOC "Directory holding standalone Asio's asio.hpp")
    if(HEARTBEAT_ASIO_INCLUDE_DIR)
        heartbeat_asio_version("${HEARTBEAT_ASIO_INCLUDE_DIR}" HEARTBEAT_ASIO_VERSION)
        if(NOT HEARTBEAT_ASIO_VERSION)
            message(STATUS "heartbeat: no asio/version.hpp in ${HEARTBEAT_ASIO_INCLUDE_DIR}; "
                           "not using it")
        elseif(HEARTBEAT_ASIO_VERSION VERSION_LESS HEARTBEAT_ASIO_MIN_VERSION)
            message(STATUS "heartbeat: Asio ${HEARTBEAT_ASIO_VERSION} in "
                           "${HEARTBEAT_ASIO_INCLUDE_DIR} is older than "
                           "${HEARTBEAT_ASIO_MIN_VERSION}; not using it")
        else()
            heartbeat_add_asio_target("${HEARTBEAT_ASIO_INCLUDE_DIR}")
            set(HEARTBEAT_ASIO_FOUND TRUE)
        endif()
    endif()
endif()
