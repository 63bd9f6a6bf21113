// The one public include of the heartbeat library.
#ifndef HEARTBEAT_HEARTBEAT_HPP
#define HEARTBEAT_HEARTBEAT_HPP

#include <heartbeat/connect_handler.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/framing.hpp>
#include <heartbeat/health.hpp>
#include <heartbeat/length_prefixed_framing.hpp>
#include <heartbeat/line_framing.hpp>
#include <heartbeat/options.hpp>
#include <heartbeat/reconnect_options.hpp>
#include <heartbeat/reconnecting_client.hpp>
#include <heartbeat/session.hpp>
#include <heartbeat/statistics.hpp>
#include <heartbeat/version.hpp>

#endif
