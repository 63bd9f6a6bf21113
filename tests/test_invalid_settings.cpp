// The checks that never throw, options::first_invalid() and line_framing::config::
// first_invalid(), in every build; and where exceptions are off (-fno-exceptions), what a
// session made with invalid options does: it writes the reason and aborts (in a child process).
#include "support.hpp"

#include <heartbeat/heartbeat.hpp>

#include <chrono>
#include <string>
#include <utility>

#if !HEARTBEAT_HAS_EXCEPTIONS && defined(__unix__)
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>
#endif

using namespace std::chrono_literals;

namespace {

std::string describe(heartbeat::invalid_setting bad) {
    return bad ? std::string(bad.field) + ": " + bad.reason : std::string("valid");
}

} // namespace

TEST_CASE("options::first_invalid names the first bad field, and never throws", "[options]") {
    STATIC_REQUIRE(noexcept(std::declval<const heartbeat::options&>().first_invalid()));
    heartbeat::options o;
    CHECK(describe(o.first_invalid()) == "valid");
    o.ping_interval = 2s;
    o.read_timeout = 1s;
    CHECK(describe(o.first_invalid()) ==
          "read_timeout: must exceed ping_interval, or the peer is declared dead between two of "
          "its own pings");
    o.idle_timeout = -1ms; // earlier in the order: it is named first
    CHECK(describe(o.first_invalid()) == "idle_timeout: must not be negative");
    o = heartbeat::options();
    o.max_frame_size = 0;
    CHECK(describe(o.first_invalid()) == "max_frame_size: must be positive");
    o = heartbeat::options();
    o.send_queue_limit = o.max_frame_size - 1;
    CHECK(describe(o.first_invalid()) == "send_queue_limit: must be at least max_frame_size");
}

TEST_CASE("line_framing::config::first_invalid names the first bad field, and never throws",
          "[options]") {
    heartbeat::line_framing::config c;
    STATIC_REQUIRE(noexcept(c.first_invalid()));
    CHECK(describe(c.first_invalid()) == "valid");
    c.pong = "PING";
    CHECK(describe(c.first_invalid()) ==
          "pong: must differ from ping, or a PONG is taken for a PING");
    c.ping = "";
    CHECK(describe(c.first_invalid()) == "ping: must not be empty (an empty line is a data frame)");
    c.line_ending = "\r";
    CHECK(describe(c.first_invalid()) == R"(line_ending: must be "\n" or "\r\n")");
    c = heartbeat::line_framing::config();
    c.ping = "PI\nNG";
    CHECK(describe(c.first_invalid()) == "ping: must not contain a line break ('\\r' or '\\n')");
}

#if !HEARTBEAT_HAS_EXCEPTIONS && defined(__unix__)
TEST_CASE("without exceptions, invalid options write the reason and abort", "[options]") {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        std::signal(SIGABRT, SIG_DFL); // the abort ends the child, not Catch's handler for it
        ::dup2(out[1], 2);
        heartbeat::options o;
        o.max_frame_size = 0;
        o.validate(); // what the session's constructor does
        ::_exit(0);
    }
    ::close(out[1]);
    std::string written;
    char buf[256];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;)
        written.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
    CHECK(written == "heartbeat::options::max_frame_size: must be positive\n");
}
#endif
