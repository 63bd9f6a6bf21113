// A turn: one of the session's own handlers. The part whose operation completed does its work
// (the reader decodes, the writer retires a batch, the sentry acts on what is due); then the
// completion queue runs the application's handlers, in order, and the writer starts the write
// that gathers what they sent (tried directly once per turn). Only then is the turn over. See
// detail/completion_queue.hpp for the rule this gives.
#ifndef HEARTBEAT_IMPL_TURN_HPP
#define HEARTBEAT_IMPL_TURN_HPP

#include <heartbeat/detail/session_state.hpp>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

template <class Stream, class Framing, class Clock>
template <auto Step, class... Results>
void session_state<Stream, Framing, Clock>::run_turn(Results... results) {
    turn_scope scope(*this);
    (this->*Step)(results...);
    finish_turn();
    scope.finished = true;
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::finish_turn() {
    bool direct = true; // one direct write per turn: see write_some
    for (;;) {
        while (ready_.run_one(cache_.get())) {
        }
        settle_reads(); // may answer PINGs, complete receives or end the session
        if (!ready_.empty())
            continue;
        if (live() && !writer_.writing() && writer_.has_output()) {
            write_batch(std::exchange(direct, false));
            continue; // a direct write may have completed senders
        }
        finish_half_close(); // that may have been the last reply to a peer that sent its EOF
        if (ready_.empty())
            break;
    }
    // The reader reads on once the turn's replies are written: a read started before them
    // would find nothing yet (the peer has not seen them) and cost a system call for nothing.
    start_read();
}

template <class Stream, class Framing, class Clock>
void session_state<Stream, Framing, Clock>::request_drain() {
    if (ready_.needs_posted_drain())
        net::post(get_executor(), drain_handler{ref(this)});
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
