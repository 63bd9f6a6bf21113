// heartbeat::options: defaults, and validate() naming the field of each bad value.
#include "support.hpp"

#include <functional>

namespace {

using heartbeat::options;
using namespace std::chrono_literals;

/// validate()'s message, or "" when the options are valid.
std::string rejection(const options& o) {
    try {
        o.validate();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

struct bad_case {
    const char* what;
    const char* field;
    std::function<void(options&)> change;
};

} // namespace

TEST_CASE("default options are valid and match the documented values", "[options]") {
    const options o;
    CHECK(rejection(o).empty());
    CHECK(o.ping_interval == 20s);
    CHECK(o.read_timeout == 30s);
    CHECK(o.idle_timeout == 0s);
    CHECK(o.write_timeout == 10s);
    CHECK(o.max_frame_size == 64u * 1024u);
    CHECK(o.send_queue_limit == 1024u * 1024u);
    CHECK(o.receive_queue_limit == 1024u * 1024u);
    CHECK(o.answer_pings);
    CHECK(o.max_unanswered_pings == 0u);
    CHECK(o.adaptive_read_timeout_floor == 0ms);
    CHECK(o.min_peer_ping_interval == 0ms);
    CHECK(rejection(hbt::test_options()).empty());
    CHECK(rejection(hbt::quiet_options()).empty());
}

TEST_CASE("each bad option value throws invalid_argument naming its field", "[options]") {
    const bad_case cases[] = {
        {"negative ping_interval", "ping_interval",
         [](options& o) {
             o.ping_interval = -1ms;
         }},
        {"negative read_timeout", "read_timeout",
         [](options& o) {
             o.read_timeout = -1ms;
         }},
        {"negative idle_timeout", "idle_timeout",
         [](options& o) {
             o.idle_timeout = -1ms;
         }},
        {"negative write_timeout", "write_timeout",
         [](options& o) {
             o.write_timeout = -5s;
         }},
        {"read_timeout equal to ping_interval", "read_timeout",
         [](options& o) {
             o.ping_interval = 100ms;
             o.read_timeout = 100ms;
         }},
        {"read_timeout below ping_interval", "read_timeout",
         [](options& o) {
             o.ping_interval = 100ms;
             o.read_timeout = 50ms;
         }},
        {"max_frame_size zero", "max_frame_size",
         [](options& o) {
             o.max_frame_size = 0;
         }},
        {"max_frame_size 2 GiB", "max_frame_size",
         [](options& o) {
             o.max_frame_size = 0x80000000u;
             o.send_queue_limit = o.receive_queue_limit = 0x100000000u;
         }},
        {"send_queue_limit below max_frame_size", "send_queue_limit",
         [](options& o) {
             o.send_queue_limit = o.max_frame_size - 1;
         }},
        {"receive_queue_limit below max_frame_size", "receive_queue_limit",
         [](options& o) {
             o.receive_queue_limit = o.max_frame_size - 1;
         }},
        {"negative min_peer_ping_interval", "min_peer_ping_interval",
         [](options& o) {
             o.min_peer_ping_interval = -1ms;
         }},
        {"negative adaptive_read_timeout_floor", "adaptive_read_timeout_floor",
         [](options& o) {
             o.adaptive_read_timeout_floor = -1ms;
         }},
        {"adaptive_read_timeout_floor without read_timeout", "adaptive_read_timeout_floor",
         [](options& o) {
             o.ping_interval = 0ms;
             o.read_timeout = 0ms;
             o.adaptive_read_timeout_floor = 100ms;
         }},
        {"adaptive_read_timeout_floor above read_timeout", "adaptive_read_timeout_floor",
         [](options& o) {
             o.adaptive_read_timeout_floor = o.read_timeout + 1ms;
         }},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        options o;
        c.change(o);
        CHECK_THROWS_AS(o.validate(), std::invalid_argument);
        const std::string message = rejection(o);
        CHECK(message.find(c.field) != std::string::npos);
        CHECK(message.find("heartbeat::options") != std::string::npos);
    }
}

TEST_CASE("boundary option values are accepted", "[options]") {
    auto valid = [](std::function<void(options&)> change) {
        options o;
        change(o);
        return rejection(o);
    };
    CHECK(valid([](options& o) {
              o.ping_interval = 100ms;
              o.read_timeout = 101ms;
          }).empty());
    // Zero disables: no ordering between a disabled clock and the other.
    CHECK(valid([](options& o) {
              o.ping_interval = 100ms;
              o.read_timeout = 0ms;
          }).empty());
    CHECK(valid([](options& o) {
              o.ping_interval = 0ms;
              o.read_timeout = 1ms;
          }).empty());
    CHECK(valid([](options& o) {
              o.ping_interval = 0ms;
              o.read_timeout = 0ms;
              o.idle_timeout = 0ms;
              o.write_timeout = 0ms;
          }).empty());
    CHECK(valid([](options& o) { o.idle_timeout = 1ms; }).empty());
    CHECK(valid([](options& o) { o.max_frame_size = 1; }).empty());
    CHECK(valid([](options& o) {
              o.max_frame_size = 0x7fffffffu;
              o.send_queue_limit = o.receive_queue_limit = 0x7fffffffu;
          }).empty());
    CHECK(valid([](options& o) { o.send_queue_limit = o.max_frame_size; }).empty());
    CHECK(valid([](options& o) { o.receive_queue_limit = o.max_frame_size; }).empty());
    CHECK(valid([](options& o) { o.adaptive_read_timeout_floor = o.read_timeout; }).empty());
    CHECK(valid([](options& o) { o.adaptive_read_timeout_floor = 1ms; }).empty());
    CHECK(valid([](options& o) { o.min_peer_ping_interval = 1ms; }).empty());
}

TEST_CASE("a session refuses invalid options at construction", "[options][session]") {
    asio::io_context ioc;
    hbt::drain_on_exit drain{ioc};
    auto pair = hbt::tcp_pair(ioc);
    options o = hbt::test_options();
    o.read_timeout = o.ping_interval;
    CHECK_THROWS_AS(hbt::line_session(std::move(pair.a), o), std::invalid_argument);

    // Valid options are kept as given.
    options good = hbt::test_options();
    good.max_unanswered_pings = 3;
    hbt::line_session s(std::move(pair.b), good);
    CHECK(s.options().ping_interval == good.ping_interval);
    CHECK(s.options().max_unanswered_pings == 3u);
    CHECK(s.next_layer().is_open());
}
