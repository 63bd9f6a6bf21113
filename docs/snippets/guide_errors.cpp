// docs/guide.md, "Why a session ended": sorting end reasons into what to do next. Run as a test
// over a table of reasons.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include "snippet_support.hpp"

// begin-snippet: classify
enum class next_step { stop, reconnect, reconnect_later, report };

// What a client does after its session's async_run completed with `ec`.
next_step after(std::error_code ec) {
    if (ec == asio::error::operation_aborted)
        return next_step::stop; // we ended it: close(), cancellation or destruction
    if (ec == heartbeat::error::timeout || ec == heartbeat::error::unanswered_pings ||
        ec == heartbeat::error::write_timeout)
        return next_step::reconnect; // the peer or the path died: a fresh connection may work
    if (ec == heartbeat::error::idle_timeout)
        return next_step::stop; // nothing to say: a policy, not a failure
    if (ec.category() == heartbeat::error_category())
        return next_step::report;      // protocol, frame_too_large, ping_flood: a bug on one side
    return next_step::reconnect_later; // eof, connection_reset, TLS and other stream errors
}
// end-snippet: classify

int main() {
    using heartbeat::error;
    snippet::expect(after(asio::error::operation_aborted) == next_step::stop, "aborted");
    snippet::expect(after(error::timeout) == next_step::reconnect, "timeout");
    snippet::expect(after(error::unanswered_pings) == next_step::reconnect, "unanswered_pings");
    snippet::expect(after(error::write_timeout) == next_step::reconnect, "write_timeout");
    snippet::expect(after(error::idle_timeout) == next_step::stop, "idle_timeout");
    snippet::expect(after(error::protocol) == next_step::report, "protocol");
    snippet::expect(after(error::ping_flood) == next_step::report, "ping_flood");
    snippet::expect(after(asio::error::eof) == next_step::reconnect_later, "eof");
    snippet::expect(after(asio::error::connection_reset) == next_step::reconnect_later, "reset");
    snippet::expect(after(asio::error::broken_pipe) == next_step::reconnect_later, "broken pipe");
    return snippet::exit_code("guide_errors");
}
