// heartbeat::health: suspect before dead. A session turns suspect when the peer has been silent
// for half of read_timeout, or a PONG from a peer that answers them is overdue; it turns healthy
// again when bytes (or the PONG) arrive. An application that watches it can open a replacement
// connection before the old one is declared dead (make-before-break).
#ifndef HEARTBEAT_HEALTH_HPP
#define HEARTBEAT_HEALTH_HPP

#include <heartbeat/detail/config.hpp>

HEARTBEAT_NAMESPACE_BEGIN

enum class health : unsigned char { healthy, suspect };

inline const char* to_string(health h) noexcept {
    return h == health::suspect ? "suspect" : "healthy";
}

HEARTBEAT_NAMESPACE_END

#endif
