# Keeps the code blocks of the Markdown documentation equal to compiled source files.
#
# A block is tied to a file by the HTML comment on the line just above its opening fence:
#
#   <!-- snippet: docs/snippets/tokens.cpp#future -->
#   ```cpp
#   ...
#   ```
#
# `path#region` is the text between the lines `// begin-snippet: region` and
# `// end-snippet: region` of that file (paths are relative to the repository root), with the
# indentation of the region's first line removed from every line and the marker lines of other
# regions dropped; a path without `#region` is the whole file. The block must equal it, byte for
# byte. Every ```cpp block must carry such a comment, so no C++ in the docs escapes the compiler;
# code in other languages (sh, go, python, text) is left alone. Every docs/snippets/*.cpp must
# be used by some block.
#
#   cmake -DROOT=<repository root> -P docs/check_snippets.cmake              check
#   cmake -DROOT=<repository root> -DUPDATE=ON -P docs/check_snippets.cmake  rewrite the blocks
#
# MARKDOWN (a list of paths relative to ROOT) replaces the default, README.md and docs/*.md, and
# then unused snippet files are not reported.
#
# CMake rather than Python: the check runs wherever the build does, with nothing to install.
# Code is full of ';' and '[', which CMake lists mangle, so the text is only ever handled with
# string(FIND/SUBSTRING/REPLACE) and quoted arguments, never as a list.
cmake_minimum_required(VERSION 3.16)

if(NOT ROOT)
    get_filename_component(ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()

set(problems 0)

# Reports one problem at `where` (file:line) and counts it.
macro(problem where text)
    message("${where}: ${text}")
    math(EXPR problems "${problems} + 1")
endmacro()

# The 1-based line number of offset `pos` in `text`.
function(line_at text pos out)
    string(SUBSTRING "${text}" 0 ${pos} head)
    string(REGEX MATCHALL "\n" newlines "${head}")
    list(LENGTH newlines n)
    math(EXPR n "${n} + 1")
    set(${out} ${n} PARENT_SCOPE)
endfunction()

# Splits `text` at its first newline: the line (without it) and what follows.
function(first_line text line_out rest_out)
    string(FIND "${text}" "\n" nl)
    if(nl EQUAL -1)
        set(${line_out} "${text}" PARENT_SCOPE)
        set(${rest_out} "" PARENT_SCOPE)
    else()
        string(SUBSTRING "${text}" 0 ${nl} line)
        math(EXPR next "${nl} + 1")
        string(SUBSTRING "${text}" ${next} -1 rest)
        set(${line_out} "${line}" PARENT_SCOPE)
        set(${rest_out} "${rest}" PARENT_SCOPE)
    endif()
endfunction()

# The text of snippet `spec` (path or path#region) in `out`, or a message in `error_out`.
function(snippet_text spec out error_out)
    set(${error_out} "" PARENT_SCOPE)
    string(FIND "${spec}" "#" hash)
    if(hash EQUAL -1)
        set(path "${spec}")
        set(region "")
    else()
        string(SUBSTRING "${spec}" 0 ${hash} path)
        math(EXPR after "${hash} + 1")
        string(SUBSTRING "${spec}" ${after} -1 region)
    endif()
    if(NOT EXISTS "${ROOT}/${path}" OR IS_DIRECTORY "${ROOT}/${path}")
        set(${error_out} "no file ${path}" PARENT_SCOPE)
        return()
    endif()
    file(READ "${ROOT}/${path}" content)
    if(region STREQUAL "")
        set(text "${content}")
    else()
        set(begin "// begin-snippet: ${region}\n")
        set(end "// end-snippet: ${region}\n")
        string(FIND "${content}" "${begin}" first)
        string(FIND "${content}" "${begin}" last REVERSE)
        if(first EQUAL -1)
            set(${error_out} "no line '// begin-snippet: ${region}' in ${path}" PARENT_SCOPE)
            return()
        endif()
        if(NOT first EQUAL last)
            set(${error_out} "region ${region} begins twice in ${path}" PARENT_SCOPE)
            return()
        endif()
        string(LENGTH "${begin}" begin_length)
        math(EXPR start "${first} + ${begin_length}")
        string(SUBSTRING "${content}" ${start} -1 tail)
        string(FIND "${tail}" "${end}" stop)
        if(stop EQUAL -1)
            set(${error_out} "no line '// end-snippet: ${region}' after its beginning in ${path}"
                PARENT_SCOPE)
            return()
        endif()
        string(SUBSTRING "${tail}" 0 ${stop} text)
        # The end marker's own indentation is not part of the region.
        string(REGEX REPLACE " +$" "" text "${text}")
    endif()
    # Markers of other (nested or overlapping) regions are not shown.
    string(REGEX REPLACE " *// (begin|end)-snippet: [^\n]*\n" "" text "${text}")
    # Dedent by the first line's indentation, which no other non-blank line may undercut.
    string(REGEX MATCH "^ +" indent "${text}")
    string(LENGTH "${indent}" width)
    if(width GREATER 0)
        set(shallower "\n[^ \n]")
        set(spaces "")
        math(EXPR last_width "${width} - 1")
        foreach(i RANGE 1 ${last_width})
            string(APPEND spaces " ")
            string(APPEND shallower "|\n${spaces}[^ \n]")
        endforeach()
        if("\n${text}" MATCHES "${shallower}")
            set(${error_out} "a line of ${spec} is indented less than its first line"
                PARENT_SCOPE)
            return()
        endif()
        string(REPLACE "\n${indent}" "\n" text "\n${text}")
        string(SUBSTRING "${text}" 1 -1 text)
    endif()
    set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The first line where `a` and `b` differ: its number and both versions of it.
function(first_difference a b number_out a_out b_out)
    set(n 1)
    while(TRUE)
        first_line("${a}" line_a a)
        first_line("${b}" line_b b)
        if(NOT line_a STREQUAL line_b OR (a STREQUAL "" AND b STREQUAL ""))
            break()
        endif()
        math(EXPR n "${n} + 1")
    endwhile()
    set(${number_out} ${n} PARENT_SCOPE)
    set(${a_out} "${line_a}" PARENT_SCOPE)
    set(${b_out} "${line_b}" PARENT_SCOPE)
endfunction()

set(used_files "")

# Checks (or, with UPDATE, rewrites) every fenced block of one Markdown file.
function(check_markdown md)
    file(READ "${ROOT}/${md}" original)
    set(rest "${original}")
    set(rebuilt "")
    set(offset 0) # of `rest` within `original`
    set(marked 0)
    while(TRUE)
        string(FIND "${rest}" "```" pos)
        if(pos EQUAL -1)
            break()
        endif()
        # Only a fence that starts its line (after optional spaces) opens a block.
        string(SUBSTRING "${rest}" 0 ${pos} before)
        string(FIND "${before}" "\n" line_start REVERSE)
        math(EXPR line_start "${line_start} + 1")
        string(SUBSTRING "${before}" ${line_start} -1 fence_indent)
        math(EXPR skip "${pos} + 3")
        if(NOT fence_indent MATCHES "^ *$")
            string(SUBSTRING "${rest}" 0 ${skip} head)
            string(APPEND rebuilt "${head}")
            string(SUBSTRING "${rest}" ${skip} -1 rest)
            math(EXPR offset "${offset} + ${skip}")
            continue()
        endif()
        math(EXPR fence_at "${offset} + ${pos}")
        line_at("${original}" ${fence_at} line)
        set(where "${md}:${line}")

        # The info string and the marker on the line above.
        string(SUBSTRING "${rest}" ${skip} -1 after_ticks)
        first_line("${after_ticks}" info after_open)
        string(STRIP "${info}" info)
        string(SUBSTRING "${before}" 0 ${line_start} above)
        string(REGEX REPLACE "\n$" "" above "${above}")
        string(FIND "${above}" "\n" above_start REVERSE)
        math(EXPR above_start "${above_start} + 1")
        string(SUBSTRING "${above}" ${above_start} -1 above)
        set(spec "")
        if(above MATCHES "^<!-- snippet: ([^ ]+) -->$")
            set(spec "${CMAKE_MATCH_1}")
        endif()

        # The block ends at a line holding the same indentation and three backticks.
        string(FIND "\n${after_open}" "\n${fence_indent}```" close)
        if(close EQUAL -1)
            problem("${where}" "code block never closed")
            break()
        endif()
        string(SUBSTRING "${after_open}" 0 ${close} body)
        string(SUBSTRING "${after_open}" ${close} -1 closing)
        first_line("${closing}" closing_line after_block)

        string(LENGTH "${rest}" rest_length)
        string(LENGTH "${after_open}" after_open_length)
        math(EXPR opening_length "${rest_length} - ${after_open_length}")
        string(SUBSTRING "${rest}" 0 ${opening_length} opening)
        string(APPEND rebuilt "${opening}")

        string(TOLOWER "${info}" language)
        if(spec STREQUAL "" AND language MATCHES "^(cpp|c\\+\\+|cxx|cc|hpp)$")
            problem("${where}" "a ${info} block without a '<!-- snippet: FILE#REGION -->' line above it: C++ in the docs must come from a compiled file")
        endif()
        if(NOT spec STREQUAL "")
            math(EXPR marked "${marked} + 1")
            string(REGEX REPLACE "#.*" "" spec_file "${spec}")
            set(used_files "${used_files};${spec_file}" PARENT_SCOPE)
            set(used_files "${used_files};${spec_file}")
            if(NOT fence_indent STREQUAL "")
                problem("${where}" "snippet blocks must not be indented")
            endif()
            snippet_text("${spec}" expected error)
            if(NOT error STREQUAL "")
                problem("${where}" "${error}")
            elseif(NOT body STREQUAL expected)
                if(UPDATE)
                    message("${where}: updated from ${spec}")
                    set(body "${expected}")
                else()
                    first_difference("${body}" "${expected}" n got want)
                    problem("${where}" "the block differs from ${spec} at its line ${n}:\n    block:   '${got}'\n    snippet: '${want}'\n  (cmake -DUPDATE=ON -P docs/check_snippets.cmake copies the snippets into the blocks)")
                endif()
            endif()
        endif()
        string(APPEND rebuilt "${body}${closing_line}")
        if(NOT after_block STREQUAL "" OR closing MATCHES "\n")
            string(APPEND rebuilt "\n")
        endif()
        string(LENGTH "${rest}" before_length)
        string(LENGTH "${after_block}" after_length)
        math(EXPR offset "${offset} + ${before_length} - ${after_length}")
        set(rest "${after_block}")
    endwhile()
    string(APPEND rebuilt "${rest}")

    # A marker that no block follows would check nothing.
    string(REGEX MATCHALL "<!-- snippet: " markers "${original}")
    list(LENGTH markers marker_count)
    if(NOT marker_count EQUAL marked)
        problem("${md}" "${marker_count} snippet comments but ${marked} blocks right below one")
    endif()
    if(UPDATE AND NOT rebuilt STREQUAL original)
        file(WRITE "${ROOT}/${md}" "${rebuilt}")
    endif()
    set(problems ${problems} PARENT_SCOPE)
endfunction()

if(DEFINED MARKDOWN)
    set(markdown_files ${MARKDOWN})
    set(check_unused OFF)
else()
    file(GLOB docs RELATIVE "${ROOT}" "${ROOT}/docs/*.md")
    list(SORT docs)
    set(markdown_files README.md ${docs})
    set(check_unused ON)
endif()

foreach(md IN LISTS markdown_files)
    if(NOT EXISTS "${ROOT}/${md}")
        problem("${md}" "no such file")
        continue()
    endif()
    check_markdown("${md}")
endforeach()

# Every public member function of `class_name` in `header` is declared in the synopsis `spec`.
# The compiled comparison in reference_synopsis.cpp catches a changed member; only the text can
# tell that one was added. Members are the declarations at one level of indentation between the
# class's `public:` and `private:`; deleted ones are not members anyone calls.
function(check_public_members header class_name spec)
    file(READ "${ROOT}/${header}" content)
    string(FIND "${content}" "class ${class_name} {" at)
    if(at EQUAL -1)
        problem("${header}" "no 'class ${class_name} {'")
        set(problems ${problems} PARENT_SCOPE)
        return()
    endif()
    string(SUBSTRING "${content}" ${at} -1 content)
    string(FIND "${content}" "\npublic:\n" public_at)
    string(FIND "${content}" "\nprivate:\n" private_at)
    if(public_at EQUAL -1 OR private_at LESS public_at)
        problem("${header}" "no public: section before private: in class ${class_name}")
        set(problems ${problems} PARENT_SCOPE)
        return()
    endif()
    math(EXPR length "${private_at} - ${public_at}")
    string(SUBSTRING "${content}" ${public_at} ${length} section)
    # Now the lines may become a list: nothing of them is shown, only names are taken.
    string(REGEX REPLACE "[][;]" " " section "${section}")
    string(REPLACE "\n" ";" lines "${section}")
    snippet_text("${spec}" synopsis error)
    if(NOT error STREQUAL "")
        problem("${spec}" "${error}")
        set(problems ${problems} PARENT_SCOPE)
        return()
    endif()
    foreach(line IN LISTS lines)
        if(NOT line MATCHES "^    [A-Za-z~]" OR line MATCHES "= delete")
            continue()
        endif()
        if(line MATCHES "(operator=|~?[A-Za-z_][A-Za-z_0-9]*)\\(")
            set(name "${CMAKE_MATCH_1}")
            string(FIND "${synopsis}" "${name}(" shown)
            if(shown EQUAL -1)
                problem("${header}" "${class_name}::${name} is public but missing from the synopsis ${spec} (and from the reference's text)")
            endif()
        endif()
    endforeach()
    set(problems ${problems} PARENT_SCOPE)
endfunction()

if(check_unused)
    check_public_members(include/heartbeat/session.hpp heartbeat_session
                         "docs/snippets/reference_synopsis.cpp#session")
    file(GLOB snippet_files RELATIVE "${ROOT}" "${ROOT}/docs/snippets/*.cpp")
    list(SORT snippet_files)
    foreach(file IN LISTS snippet_files)
        if(NOT file IN_LIST used_files)
            problem("${file}" "not shown by any block of README.md or docs/*.md")
        endif()
    endforeach()
endif()

list(LENGTH markdown_files checked)
if(problems GREATER 0)
    message(FATAL_ERROR "${problems} problem(s) in the documentation's code blocks")
endif()
message("snippets: ${checked} Markdown files checked, every C++ block matches its source")
