# Toolchain file: Windows x86-64 with MinGW-w64's g++ (Debian: g++-mingw-w64-x86-64-posix, the
# "posix" thread model, which std::thread and std::mutex need), run under wine (Debian: wine64).
#
#   cmake -S . -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
#         -DHEARTBEAT_MINGW_ROOT=<dir with include/asio.hpp, include/asio/, ...>
#
# scripts/test.sh --mingw does this: it makes HEARTBEAT_MINGW_ROOT a directory of links to just
# the header-only libraries the build needs (Asio, Catch2 and Catch2's CMake package), so that
# nothing of Linux's /usr/include reaches the cross compiler.
#
# libgcc, libstdc++ and winpthread are linked statically: the programs need no DLL beside them
# (wine, or a Windows machine, would not find MinGW's). CTest runs tests through
# CMAKE_CROSSCOMPILING_EMULATOR (wine64 when found; set it to empty to only build).

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(HEARTBEAT_MINGW_TRIPLET x86_64-w64-mingw32)
find_program(CMAKE_C_COMPILER NAMES ${HEARTBEAT_MINGW_TRIPLET}-gcc-posix REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${HEARTBEAT_MINGW_TRIPLET}-g++-posix REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${HEARTBEAT_MINGW_TRIPLET}-windres)

# The headers and packages of the target: MinGW's own, and the staging root given.
set(HEARTBEAT_MINGW_ROOT "" CACHE PATH
    "A root with include/ and lib/cmake/ for Windows (links to header-only libraries)")
set(CMAKE_FIND_ROOT_PATH /usr/${HEARTBEAT_MINGW_TRIPLET})
if(HEARTBEAT_MINGW_ROOT)
    list(APPEND CMAKE_FIND_ROOT_PATH "${HEARTBEAT_MINGW_ROOT}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects see the same root.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HEARTBEAT_MINGW_ROOT)

# Self-contained executables (see above).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++ -static")

if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
    find_program(HEARTBEAT_WINE64 NAMES wine64 PATHS /usr/lib/wine NO_DEFAULT_PATH)
    find_program(HEARTBEAT_WINE64 NAMES wine64 wine)
    if(HEARTBEAT_WINE64)
        set(CMAKE_CROSSCOMPILING_EMULATOR "${HEARTBEAT_WINE64}")
    endif()
endif()
