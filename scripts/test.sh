#!/usr/bin/env bash
# Builds heartbeat's tests and examples and runs them all with CTest. Installs what the machine
# lacks (Debian packages) first.
#
#   scripts/test.sh                             build/, plain Debug build
#   scripts/test.sh --sanitize address,undefined  build-asan/, with those sanitizers
#   scripts/test.sh --sanitize thread           build-tsan/
#   scripts/test.sh --werror --build-dir DIR    warnings are errors (CI does this with clang++)
#   scripts/test.sh --std 20                    ISO C++20 (or 17) for everything; without it the
#                                               compiler's default, at least C++17
#   scripts/test.sh --boost                     the tests against Boost.Asio, build-boost/
#   scripts/test.sh --no-exceptions             -fno-exceptions: the tests that need none and
#                                               the examples, build-noexcept/
#   scripts/test.sh --io-uring                  Asio's io_uring backend (liburing), build-uring/;
#                                               says "skipped" where the kernel refuses io_uring
#   scripts/test.sh --mingw                     Windows: cross-built with MinGW-w64 (g++, posix
#                                               threads; cmake/mingw-w64-x86_64.cmake), the tests
#                                               and examples run under wine64, build-mingw/
#   scripts/test.sh -DNAME=VALUE ...            more CMake cache settings
#
# The environment may set CXX (the compiler) and HEARTBEAT_SANITIZE (as --sanitize).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$HEARTBEAT_ROOT"

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

sanitize=${HEARTBEAT_SANITIZE:-}
werror=OFF
std=
boost=OFF
no_exceptions=OFF
io_uring=OFF
mingw=OFF
build_dir=
cmake_args=()
while (($# > 0)); do
    case $1 in
    --sanitize)
        (($# >= 2)) || usage
        sanitize=$2
        shift 2
        ;;
    --sanitize=*)
        sanitize=${1#--sanitize=}
        shift
        ;;
    --werror)
        werror=ON
        shift
        ;;
    --std)
        (($# >= 2)) || usage
        std=$2
        shift 2
        ;;
    --std=*)
        std=${1#--std=}
        shift
        ;;
    --boost)
        boost=ON
        shift
        ;;
    --no-exceptions)
        no_exceptions=ON
        shift
        ;;
    --io-uring)
        io_uring=ON
        shift
        ;;
    --mingw)
        mingw=ON
        shift
        ;;
    --build-dir)
        (($# >= 2)) || usage
        build_dir=$2
        shift 2
        ;;
    -D*)
        cmake_args+=("$1")
        shift
        ;;
    *) usage ;;
    esac
done

if [[ -z $build_dir ]]; then
    case $sanitize in
    "") build_dir=build ;;
    *thread*) build_dir=build-tsan ;;
    *) build_dir=build-asan ;;
    esac
    [[ $boost == OFF ]] || build_dir+=-boost
    [[ $no_exceptions == OFF ]] || build_dir=build-noexcept
    [[ $io_uring == OFF ]] || build_dir=build-uring
    [[ $mingw == OFF ]] || build_dir=build-mingw
fi
# Windows has no sanitizers for MinGW, and io_uring is Linux's.
[[ $mingw == OFF || (-z $sanitize && $io_uring == OFF) ]] || usage

# The language standard: set for every target (test_completion_tokens still asks for C++20
# itself), or the cache entries of an earlier --std removed, so a reused build directory gets
# the default back.
case $std in
"") std_args=(-UCMAKE_CXX_STANDARD -UCMAKE_CXX_STANDARD_REQUIRED -UCMAKE_CXX_EXTENSIONS) ;;
17 | 20 | 23) std_args=("-DCMAKE_CXX_STANDARD=$std" -DCMAKE_CXX_STANDARD_REQUIRED=ON
    -DCMAKE_CXX_EXTENSIONS=OFF) ;;
*) usage ;;
esac

if [[ -n $sanitize ]]; then
    # Any report fails the test that caused it, with a stack trace.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    # tests/tsan.supp: one false positive of an uninstrumented libstdc++, explained there.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$HEARTBEAT_ROOT/tests/tsan.supp}
fi

heartbeat_install_for_compiler
if [[ -n $sanitize && ${CXX:-} == *clang* ]]; then
    # Clang's sanitizer runtimes are a package of their own on Debian 12 (libclang-rt-14-dev).
    clang_version=$("$CXX" -dumpversion 2>/dev/null || true)
    [[ -z $clang_version ]] || heartbeat_install_optional "libclang-rt-${clang_version%%.*}-dev"
fi
if [[ $io_uring == ON ]]; then
    # Asio's io_uring backend for sockets, descriptors, files and timers, epoll out of the way.
    heartbeat_install liburing-dev
    mkdir -p "$build_dir"
    probe_flags=(-std=c++17 -DASIO_HAS_IO_URING -DASIO_DISABLE_EPOLL)
    if ! "${CXX:-c++}" "${probe_flags[@]}" scripts/io_uring_probe.cpp -o "$build_dir/io_uring_probe" \
        -luring -pthread || ! "$build_dir/io_uring_probe"; then
        echo "skipped: this kernel does not let Asio use io_uring (see above)"
        exit 0
    fi
    cmake_args+=("-DCMAKE_CXX_FLAGS=-DASIO_HAS_IO_URING -DASIO_DISABLE_EPOLL"
        -DCMAKE_CXX_STANDARD_LIBRARIES=-luring -DHEARTBEAT_BUILD_EXAMPLES=OFF)
fi
if [[ $mingw == ON ]]; then
    # The cross compiler (its posix thread model: std::thread and std::mutex need it) and wine
    # to run what it builds. Boost and OpenSSL are not there for MinGW: no TLS and no Boost.Asio.
    heartbeat_install g++-mingw-w64-x86-64-posix wine64
    # The header-only libraries the build needs, linked into a root of their own, so that
    # nothing else of Linux's /usr/include reaches the cross compiler: Asio, Catch2, and
    # Catch2's CMake package but for the file naming its Linux library (nothing here links it).
    mingw_root="$PWD/$build_dir/mingw-root"
    mkdir -p "$mingw_root/include" "$mingw_root/lib/cmake/Catch2"
    for header in asio asio.hpp catch2; do
        ln -sfn "/usr/include/$header" "$mingw_root/include/$header"
    done
    for file in /usr/lib/cmake/Catch2/*.cmake; do
        [[ $file == */Catch2Targets-*.cmake ]] || ln -sfn "$file" "$mingw_root/lib/cmake/Catch2/"
    done
    # wine, unattended: a prefix of its own in the build directory, no display (no window can
    # open), no Mono or Gecko installer, no debug channels. And no debugger: with wine's
    # default (winedbg --auto) a program that crashes sometimes exits with status 0 (measured
    # with wine 8.0), so a test that crashes could pass; without one it exits with the
    # exception's code.
    wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
    wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
    export WINEPREFIX="$PWD/$build_dir/wineprefix" WINEARCH=win64 WINEDEBUG=-all
    export WINEDLLOVERRIDES="mscoree,mshtml="
    unset DISPLAY WAYLAND_DISPLAY
    # One wineserver serves the whole run (else each of some 200 test processes starts one),
    # stopped however this script ends. One left running by an earlier run is used as it is.
    mkdir -p "$WINEPREFIX"
    "$wineserver" -p || echo "note: a wineserver already serves $WINEPREFIX"
    trap '"$wineserver" -k 2>/dev/null || true' EXIT
    # The first program a wineserver runs starts wine's services (services.exe, explorer.exe,
    # ...), which then live as long as the server, holding that program's stdout and stderr:
    # started by a test, they kept CTest's pipe open, so the test passed and then timed out.
    # They are started here, writing to a file.
    wine_log="$build_dir/wine-setup.log"
    if [[ ! -f $WINEPREFIX/system.reg ]]; then
        echo "==> making the wine prefix $WINEPREFIX"
        timeout 300 "$wine" wineboot -i </dev/null >"$wine_log" 2>&1 || { cat "$wine_log"; exit 1; }
    fi
    timeout 120 "$wine" reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' \
        /v Debugger /t REG_SZ /d heartbeat-no-debugger.exe /f </dev/null >>"$wine_log" 2>&1 ||
        { cat "$wine_log"; exit 1; }
    # Debug without -g, at -O1 (assertions stay on): ld spends ~25 s on the debug information
    # (libstdc++'s, Catch2's) of each static test program, ~1 s without; -O1 also compiles about
    # as fast as -O0 and runs the timing tests faster under wine. At -O1 g++ 12 also warns
    # "may be used uninitialized" for a std::string compared after moves through std::apply
    # (test_completion_tokens.cpp; g++ 12 on Linux at -O1 too): a false positive, turned off.
    # Given first, so that -D settings on the command line win.
    cmake_args=("-DCMAKE_TOOLCHAIN_FILE=$HEARTBEAT_ROOT/cmake/mingw-w64-x86_64.cmake"
        "-DHEARTBEAT_MINGW_ROOT=$mingw_root" "-DCMAKE_CROSSCOMPILING_EMULATOR=$wine"
        "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -Wno-maybe-uninitialized" "${cmake_args[@]}")
else
    # Boost.Asio, for heartbeat::heartbeat_boost and its package test (Debian 12's libboost-dev
    # is 1.74, older than the 1.79 it needs); required with --boost.
    if [[ $boost == ON ]]; then
        heartbeat_install libboost1.81-dev
    else
        heartbeat_install_optional libboost1.81-dev
    fi
    # OpenSSL's headers, for the TLS tests and examples (left out without them).
    heartbeat_install_optional libssl-dev
fi
heartbeat_configure "$build_dir" "-DHEARTBEAT_SANITIZE=$sanitize" "-DHEARTBEAT_WERROR=$werror" \
    "-DHEARTBEAT_TEST_BOOST_ASIO=$boost" "-DHEARTBEAT_TESTS_NO_EXCEPTIONS=$no_exceptions" \
    "${std_args[@]}" "${cmake_args[@]}"
cmake --build "$build_dir"
# No retry: a test that fails once is a bug, in the library or in the test. The socket tests
# measure wall-clock deadlines with slack for a loaded machine (tests/support.hpp);
# scripts/stress.sh runs the suite again and again under CPU load to prove they hold.
ctest_args=()
if [[ -n $sanitize || $io_uring == ON || $mingw == ON ]]; then
    # The package tests build consumers without sanitizers or io_uring, and for the machine
    # that builds (not for Windows): the plain build runs them.
    ctest_args+=(--label-exclude package)
fi
if [[ $io_uring == ON ]]; then
    # Left out on io_uring, each for a stated reason:
    # - session_virtual and reconnect: their clock is virtual, but io_uring's timers wait in the
    #   kernel, in real time, so no virtual deadline ever fires (the rig's limit, not the
    #   library's);
    # - the io_context destroyed with a session still running: Asio 1.22's io_uring service
    #   destroys a read closed while in the kernel in its destructor, after the services made
    #   later (the session's timer's among them); fixed in newer Asio (tests/BUGS.md, 4).
    ctest_args+=(-E '^session_virtual\.|^reconnect\.|destroying the io_context with a session still running')
fi
# Under wine, a test that cannot run on Windows says why and CTest reports it skipped: the list
# is printed at the end ("The following tests did not run"). Left out besides, at build time
# (tests/CMakeLists.txt, examples/CMakeLists.txt): the pty and descriptor tests (POSIX only),
# the TLS tests and examples and the Boost.Asio build (no OpenSSL or Boost for MinGW here), and
# the examples' smoke tests (bash scripts driving the programs).
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 "${ctest_args[@]}" </dev/null
