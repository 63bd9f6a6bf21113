// Optional TCP-level settings that complement the heartbeat: kernel keepalive probes and
// TCP_USER_TIMEOUT watch the *link* (a vanished host, a dead NAT mapping), while the heartbeat
// watches the *peer* (a hung or crashed process behind a live kernel). Options a platform lacks
// are skipped: the result says what was applied.
//
// Not included by <heartbeat/heartbeat.hpp>: include it where you configure sockets.
#ifndef HEARTBEAT_TCP_KEEPALIVE_HPP
#define HEARTBEAT_TCP_KEEPALIVE_HPP

#include <heartbeat/detail/config.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/socket_base.hpp>
#else
#include <asio/socket_base.hpp>
#endif

#include <chrono>

#include <cerrno>

#if !defined(_WIN32)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

HEARTBEAT_NAMESPACE_BEGIN

struct tcp_keepalive_options {
    /// Idle time before the first probe. Zero leaves SO_KEEPALIVE and the probe settings as
    /// they were (interval and probes are then ignored).
    std::chrono::seconds idle{0};
    /// Time between probes.
    std::chrono::seconds interval{0};
    /// Unanswered probes before the kernel drops the connection.
    int probes = 0;
    /// How long written data may stay unacknowledged before the kernel drops the connection
    /// (TCP_USER_TIMEOUT, Linux); zero leaves the system default.
    std::chrono::milliseconds user_timeout{0};
};

/// What set_tcp_keepalive() applied; false where the platform lacks the option.
struct tcp_keepalive_result {
    bool keepalive = false;
    bool idle = false;
    bool interval = false;
    bool probes = false;
    bool user_timeout = false;
};

/// Applies `opts` to a connected or open TCP socket; fails with the first setsockopt error.
template <class Socket>
tcp_keepalive_result set_tcp_keepalive(Socket& socket, const tcp_keepalive_options& opts,
                                       error_code& ec) {
    tcp_keepalive_result applied;
    ec = {};
    [[maybe_unused]] auto set = [&](int level, int name, int value) {
#if defined(_WIN32)
        (void)level, (void)name, (void)value;
        return false;
#else
        if (::setsockopt(socket.native_handle(), level, name, &value, sizeof value) != 0) {
            ec = error_code(errno, net::error::get_system_category());
            return false;
        }
        return true;
#endif
    };
    if (opts.idle.count() > 0) {
        socket.set_option(net::socket_base::keep_alive(true), ec);
        if (ec)
            return applied;
        applied.keepalive = true;
#if defined(TCP_KEEPIDLE)
        if (!set(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(opts.idle.count())))
            return applied;
        applied.idle = true;
#elif defined(TCP_KEEPALIVE) // macOS spells it differently
        if (!set(IPPROTO_TCP, TCP_KEEPALIVE, static_cast<int>(opts.idle.count())))
            return applied;
        applied.idle = true;
#endif
#if defined(TCP_KEEPINTVL)
        if (opts.interval.count() > 0) {
            if (!set(IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(opts.interval.count())))
                return applied;
            applied.interval = true;
        }
#endif
#if defined(TCP_KEEPCNT)
        if (opts.probes > 0) {
            if (!set(IPPROTO_TCP, TCP_KEEPCNT, opts.probes))
                return applied;
            applied.probes = true;
        }
#endif
    }
#if defined(TCP_USER_TIMEOUT)
    if (opts.user_timeout.count() > 0) {
        if (!set(IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(opts.user_timeout.count())))
            return applied;
        applied.user_timeout = true;
    }
#endif
    return applied;
}

HEARTBEAT_NAMESPACE_END

#endif
