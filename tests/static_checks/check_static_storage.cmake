# Fails when a header under DIR declares a thread_local or static object without proving, right
# after it, that the object's type is trivially destructible. Such destructors run at thread or
# program exit in an order nobody controls: a static io_context destroyed at exit would use
# caches already destroyed, and MinGW-w64 crashes in thread_local destructors at thread exit.
#
#   cmake -DDIR=include -P tests/static_checks/check_static_storage.cmake
#
# Every declaration of an object with static or thread storage (a line starting with
# `thread_local`, `static` or `static thread_local`, apart from `static constexpr`, functions and
# static_assert) must be followed within the next three lines by
# `static_assert(std::is_trivially_destructible_v<...>)`, which the compiler then checks.
# Objects that must live to the very end use detail::never_destroyed (never_destroyed.hpp).
cmake_minimum_required(VERSION 3.16)

if(NOT DIR)
    message(FATAL_ERROR "usage: cmake -DDIR=<directory of headers> -P ${CMAKE_CURRENT_LIST_FILE}")
endif()
file(GLOB_RECURSE headers "${DIR}/*.hpp" "${DIR}/*.h")
if(NOT headers)
    message(FATAL_ERROR "no headers under ${DIR}")
endif()

set(failures 0)
set(checked 0)
foreach(header IN LISTS headers)
    file(READ "${header}" content)
    # One list element per line: protect what CMake lists treat specially.
    string(REPLACE "\\" "<bs>" content "${content}")
    string(REPLACE ";" "<semi>" content "${content}")
    string(REPLACE "[" "<lb>" content "${content}")
    string(REPLACE "]" "<rb>" content "${content}")
    string(REPLACE "\n" ";" lines "${content}")
    list(LENGTH lines count)
    set(index 0)
    foreach(line IN LISTS lines)
        math(EXPR index "${index} + 1")
        # Drop a leading alignas(...): `alignas(T) static unsigned char storage[...]`.
        string(REGEX REPLACE "^[ \t]*alignas\\([^)]*\\)[ \t]*" "" decl "${line}")
        set(candidate FALSE)
        if(decl MATCHES "^[ \t]*(static[ \t]+)?thread_local[ \t]")
            set(candidate TRUE)
        elseif(decl MATCHES "^[ \t]*static[ \t]+(inline[ \t]+)?(const[ \t]+)?[A-Za-z_]"
               AND NOT decl MATCHES "^[ \t]*static[ \t]+(inline[ \t]+)?constexpr[ \t]")
            # An object, not a function: no '(' before the '=', '{' or ';' that ends the name.
            set(end -1)
            foreach(terminator "=" "<semi>" "{")
                string(FIND "${decl}" "${terminator}" at)
                if(at GREATER -1 AND (end EQUAL -1 OR at LESS end))
                    set(end ${at})
                endif()
            endforeach()
            string(FIND "${decl}" "(" paren)
            if(end GREATER -1 AND (paren EQUAL -1 OR paren GREATER end))
                set(candidate TRUE)
            endif()
        endif()
        if(NOT candidate)
            continue()
        endif()
        math(EXPR checked "${checked} + 1")
        set(proven FALSE)
        foreach(offset RANGE 0 3)
            math(EXPR next "${index} + ${offset}")
            if(next LESS count)
                list(GET lines ${next} following)
                if(following MATCHES "static_assert\\(std::is_trivially_destructible")
                    set(proven TRUE)
                endif()
            endif()
        endforeach()
        if(NOT proven)
            string(REPLACE "<semi>" ";" shown "${line}")
            string(REPLACE "<lb>" "[" shown "${shown}")
            string(REPLACE "<rb>" "]" shown "${shown}")
            string(REPLACE "<bs>" "\\" shown "${shown}")
            string(STRIP "${shown}" shown)
            message(SEND_ERROR "${header}:${index}: static or thread_local object without "
                               "static_assert(std::is_trivially_destructible_v<...>): ${shown}")
            math(EXPR failures "${failures} + 1")
        endif()
    endforeach()
endforeach()

if(failures GREATER 0)
    message(FATAL_ERROR "${failures} object(s) with static or thread storage may have a "
                        "destructor (see above)")
endif()
message(STATUS "${checked} static or thread_local object(s) in ${DIR}, each trivially destructible")
