#!/usr/bin/env bash
# Runs clang-tidy (14, with the checks of .clang-tidy) on the library's headers and fails on any
# warning. Installs clang-tidy-14 and what the headers need when they are missing.
#
#   scripts/tidy.sh                 every public header, and every operation instantiated
#   scripts/tidy.sh --build-dir DIR where the generated translation units go (build-tidy/)
#
# A header is checked through translation units generated here: one per public header
# (include/heartbeat/*.hpp, alone, so each includes what it uses), and one that instantiates
# every asynchronous operation of heartbeat_session over a TCP socket, a local socket and an
# ssl::stream, with both framings, once over standalone Asio and once over Boost.Asio. Only
# diagnostics in include/heartbeat/ count (HeaderFilterRegex); Asio's own headers are not ours.
# The environment may set CLANG_TIDY (default clang-tidy-14) and JOBS (default: nproc).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$HEARTBEAT_ROOT"

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

build_dir=build-tidy
while (($# > 0)); do
    case $1 in
    --build-dir)
        (($# >= 2)) || usage
        build_dir=$2
        shift 2
        ;;
    *) usage ;;
    esac
done

clang_tidy=${CLANG_TIDY:-clang-tidy-14}
heartbeat_install clang-tidy-14 clang g++ libasio-dev
# Boost.Asio and OpenSSL's headers, for the Boost.Asio and ssl::stream instantiations; without
# them those are skipped (with a note), not failed.
heartbeat_install_optional libboost1.81-dev libssl-dev
command -v "$clang_tidy" >/dev/null || {
    echo "error: $clang_tidy not found" >&2
    exit 1
}

mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
rm -f "$build_dir"/*.cpp "$build_dir"/*.log "$build_dir"/*.failed

# One translation unit per public header.
units=()
for header in include/heartbeat/*.hpp; do
    name=$(basename "$header" .hpp)
    printf '#include <heartbeat/%s.hpp>\n' "$name" >"$build_dir/header_$name.cpp"
    units+=("header_$name.cpp:standalone")
done

# Every operation, instantiated: templates are only fully checked once instantiated.
cat >"$build_dir/instantiate.cpp" <<'EOF'
#include <heartbeat/heartbeat.hpp>
#include <heartbeat/tcp_keepalive.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#if defined(HEARTBEAT_TIDY_SSL)
#include <boost/asio/ssl.hpp>
#endif
#else
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#if defined(HEARTBEAT_TIDY_SSL)
#include <asio/ssl.hpp>
#endif
#endif

#include <string>
#include <utility>

namespace net = heartbeat::net;
using heartbeat::error_code;

template <class Session>
void every_operation(Session& session) {
    session.set_health_observer([](heartbeat::health) {});
    session.async_run([](error_code) {});
    session.async_send("frame", [](error_code) {});
    session.async_receive([](error_code, const std::string&) {});
    (void)session.statistics();
    (void)session.options();
    (void)session.next_layer();
    (void)session.get_executor();
    session.close();
}

template <class Framing, class Stream>
void with_framing(Stream stream) {
    heartbeat::heartbeat_session<Stream, Framing> session(std::move(stream));
    every_operation(session);
    heartbeat::heartbeat_session<Stream, Framing> moved(std::move(session));
    session = std::move(moved);
}

template <class Stream>
void with_both_framings(net::io_context& io) {
    with_framing<heartbeat::line_framing>(Stream(io));
    with_framing<heartbeat::length_prefixed_framing>(Stream(io));
}

// Never called: clang-tidy compiles, it does not link or run.
void instantiate_everything() {
    net::io_context io;
    with_both_framings<net::ip::tcp::socket>(io);
    with_both_framings<net::local::stream_protocol::socket>(io);
    net::ip::tcp::socket tcp(io);
    error_code ec;
    (void)heartbeat::set_tcp_keepalive(tcp, heartbeat::tcp_keepalive_options{}, ec);
#if defined(HEARTBEAT_TIDY_SSL)
    net::ssl::context tls(net::ssl::context::tls_client);
    heartbeat::heartbeat_session<net::ssl::stream<net::ip::tcp::socket>> session(
        net::ssl::stream<net::ip::tcp::socket>(io, tls));
    every_operation(session);
#endif
    io.run();
}
EOF
ssl_flags=()
if [[ -f /usr/include/openssl/ssl.h ]]; then
    ssl_flags=(-DHEARTBEAT_TIDY_SSL)
else
    echo "note: no OpenSSL headers; the ssl::stream instantiation is skipped" >&2
fi
units+=("instantiate.cpp:standalone")
if [[ -f /usr/include/boost/asio/version.hpp ]] &&
    (($(sed -n 's/^#define BOOST_ASIO_VERSION \([0-9]*\).*/\1/p' \
        /usr/include/boost/asio/version.hpp) >= 102200)); then
    units+=("instantiate.cpp:boost")
else
    echo "note: no Boost.Asio 1.79 or later; the Boost.Asio instantiation is skipped" >&2
fi

# The flags the tests build with (heartbeat_internal), C++17.
common_flags=(-std=c++17 -Wall -Wextra -Wpedantic "-I$HEARTBEAT_ROOT/include" -pthread)

run_unit() {
    local file=${1%%:*} flavour=${1##*:} flags
    case $flavour in
    standalone) flags=(-DASIO_NO_DEPRECATED) ;;
    boost) flags=(-DHEARTBEAT_USE_BOOST_ASIO -DBOOST_ASIO_NO_DEPRECATED) ;;
    esac
    [[ $file != instantiate.cpp ]] || flags+=("${ssl_flags[@]}")
    local log="$build_dir/${file%.cpp}.$flavour.log"
    # --quiet: no "N warnings generated" chatter; diagnostics still print.
    # The generated units may live outside the tree, so the configuration is named explicitly.
    if "$clang_tidy" --quiet "--config-file=$HEARTBEAT_ROOT/.clang-tidy" "--warnings-as-errors=*" \
        "$build_dir/$file" -- \
        "${common_flags[@]}" "${flags[@]}" >"$log" 2>&1; then
        echo "ok      $file ($flavour)"
    else
        echo "FAILED  $file ($flavour)"
        touch "${log%.log}.failed"
    fi
}

jobs=${JOBS:-$(nproc)}
started=$SECONDS
for unit in "${units[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do
        wait -n || true
    done
    run_unit "$unit" &
done
wait
failed=0
! compgen -G "$build_dir/*.failed" >/dev/null || failed=1

# Every distinct finding once (a header is reached from many units), sorted by place.
grep -h -E '^/[^ ]*:[0-9]+:[0-9]+: (warning|error):' "$build_dir"/*.log 2>/dev/null |
    sort -u -t: -k1,1 -k2,2n -k3,3n >"$build_dir/findings.txt" || true
if ((failed)) || [[ -s $build_dir/findings.txt ]]; then
    echo
    echo "clang-tidy findings (full context in $build_dir/*.log):"
    cat "$build_dir/findings.txt"
    echo "$(wc -l <"$build_dir/findings.txt") finding(s) in $((SECONDS - started)) s"
    exit 1
fi
echo "clang-tidy: no findings in ${#units[@]} translation units, $((SECONDS - started)) s"
