# heartbeat_check_asio_coroutines(<result> [NO_EXCEPTIONS] [INCLUDES dir...] [LIBRARIES lib...]):
# whether standalone Asio has C++20 coroutines with this compiler (ASIO_HAS_CO_AWAIT: g++ 10+
# with -std=c++20; not clang 14 with libstdc++), for the programs that need them:
# coro_echo_server (examples/) and lib_server --loop coro (bench/, which also builds on its own).
# NO_EXCEPTIONS: whether they also compile with exceptions off (-fno-exceptions,
# ASIO_NO_EXCEPTIONS), which Asio 1.22's co_spawn does not. <result> is a cache variable of the
# caller's naming, so each project keeps its own answer.
include_guard(GLOBAL)
include(CheckCXXSourceCompiles)

function(heartbeat_check_asio_coroutines result)
    cmake_parse_arguments(PARSE_ARGV 1 arg "NO_EXCEPTIONS" "" "INCLUDES;LIBRARIES")
    if(arg_NO_EXCEPTIONS)
        if(MSVC)
            set(CMAKE_REQUIRED_FLAGS /EHs-c-)
        else()
            set(CMAKE_REQUIRED_FLAGS -fno-exceptions)
        endif()
        set(CMAKE_REQUIRED_DEFINITIONS -DASIO_NO_EXCEPTIONS)
    endif()
    set(CMAKE_CXX_STANDARD 20)
    set(CMAKE_CXX_STANDARD_REQUIRED ON)
    set(CMAKE_REQUIRED_INCLUDES ${arg_INCLUDES})
    set(CMAKE_REQUIRED_LIBRARIES ${arg_LIBRARIES}) # imported targets: try_compile can use them
    set(CMAKE_REQUIRED_QUIET ON)
    check_cxx_source_compiles([[
        #include <asio/co_spawn.hpp>
        #include <asio/detached.hpp>
        #include <asio/io_context.hpp>
        #include <asio/use_awaitable.hpp>
        #if !defined(ASIO_HAS_CO_AWAIT)
        #error "no coroutines for Asio"
        #endif
        #if defined(ASIO_NO_EXCEPTIONS)
        #include <cstdlib>
        template <class E> void asio::detail::throw_exception(const E&) { std::abort(); }
        #endif
        asio::awaitable<void> f() { co_return; }
        int main() {
            asio::io_context io;
            asio::co_spawn(io, f(), asio::detached);
            io.run();
        }]] ${result})
endfunction()
