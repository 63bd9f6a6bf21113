# Standalone Asio for the build: the system's (see HeartbeatFindAsio.cmake), else a copy
# fetched from GitHub. Either way the result is the target heartbeat::asio.

set(HEARTBEAT_ASIO_IMPORTED_GLOBAL ON)
include("${CMAKE_CURRENT_LIST_DIR}/HeartbeatFindAsio.cmake")

if(HEARTBEAT_ASIO_FOUND)
    if(HEARTBEAT_ASIO_VERSION)
        message(STATUS "heartbeat: using Asio ${HEARTBEAT_ASIO_VERSION} from "
                       "${HEARTBEAT_ASIO_INCLUDE_DIR}")
    endif()
else()
    message(STATUS "heartbeat: standalone Asio not found; fetching asio-1-30-2 from GitHub")
    include(FetchContent)
    FetchContent_Declare(heartbeat_asio
        GIT_REPOSITORY https://github.com/chriskohlhoff/asio.git
        GIT_TAG asio-1-30-2
        GIT_SHALLOW TRUE)
    # Asio's repository has no CMakeLists.txt: this only downloads it.
    FetchContent_MakeAvailable(heartbeat_asio)
    heartbeat_add_asio_target("${heartbeat_asio_SOURCE_DIR}/asio/include")
    heartbeat_asio_version("${heartbeat_asio_SOURCE_DIR}/asio/include" HEARTBEAT_ASIO_VERSION)
    message(STATUS "heartbeat: using fetched Asio ${HEARTBEAT_ASIO_VERSION}; an installed "
                   "heartbeat will look for Asio on the system (set HEARTBEAT_ASIO_INCLUDE_DIR)")
endif()
