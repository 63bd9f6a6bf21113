// hbt_faults_lifetime: sessions destroyed and cancelled at every stage of their life, built with
// AddressSanitizer and UBSan. After each scenario every handler has run exactly once (or, where
// the io_context itself is destroyed, at most once and never after that), and every handler
// object has been destroyed: none leaked, none ran twice, none ran late.
//
// Stages: before async_run, with a large frame in flight, with half a frame read, inside the
// run, receive and send completion handlers, while only internal operations are pending, and
// with the io_context destroyed under them. Actions: the handle destroyed or move-assigned
// over, close(), and cancellation of each operation through its slot with each type, also
// after its result was decided but before its handler ran.
#include "fault_support.hpp"

#include <heartbeat/heartbeat.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using error_code = std::error_code;
using hbf::clock;

/// Whether the io_context of the current scenario is gone: a handler running then is a bug.
struct world {
    bool ioc_gone = false;
};

/// What one operation's handler saw.
struct record {
    std::string what;
    int calls = 0;
    int owners = 0; // live handler objects (moved-from ones do not count)
    bool late = false;
    error_code ec;
    std::string frame;
    const world* w = nullptr;
};

/// A move-only handler that records its calls into a record; `then` runs inside it (to destroy
/// the session from within its own handler, for instance).
class probe {
public:
    probe(std::shared_ptr<record> r, std::function<void()> then = {})
        : r_(std::move(r))
        , then_(std::move(then)) {
        ++r_->owners;
    }
    probe(probe&& o) noexcept
        : r_(std::move(o.r_))
        , then_(std::move(o.then_)) {}
    probe& operator=(probe&&) = delete;
    probe(const probe&) = delete;
    probe& operator=(const probe&) = delete;
    ~probe() {
        if (r_)
            --r_->owners;
    }

    void operator()(error_code ec) { hit(ec); }
    void operator()(error_code ec, std::string frame) {
        r_->frame = std::move(frame);
        hit(ec);
    }

private:
    void hit(error_code ec) {
        ++r_->calls;
        r_->ec = ec;
        if (r_->w->ioc_gone)
            r_->late = true;
        if (then_)
            then_();
    }

    std::shared_ptr<record> r_;
    std::function<void()> then_;
};

/// Every handler of a scenario.
class records {
public:
    explicit records(const world& w)
        : w_(w) {}
    std::shared_ptr<record> make(std::string what) {
        auto r = std::make_shared<record>();
        r->what = std::move(what);
        r->w = &w_;
        all_.push_back(r);
        return r;
    }
    /// After the io_context ran dry: each handler ran exactly once, none is left.
    void check_exactly_once(const char* scenario) const {
        for (const auto& r : all_) {
            HBF_CHECK_MSG(r->calls == 1, "%s: %s ran %d times", scenario, r->what.c_str(),
                          r->calls);
            HBF_CHECK_MSG(r->owners == 0, "%s: %s handler object leaked", scenario,
                          r->what.c_str());
            HBF_CHECK_MSG(!r->late, "%s: %s ran after the io_context was destroyed", scenario,
                          r->what.c_str());
        }
    }
    /// After the io_context was destroyed: at most once, never late, no handler object left.
    void check_at_most_once(const char* scenario) const {
        for (const auto& r : all_) {
            HBF_CHECK_MSG(r->calls <= 1, "%s: %s ran %d times", scenario, r->what.c_str(),
                          r->calls);
            HBF_CHECK_MSG(r->owners == 0, "%s: %s handler object leaked", scenario,
                          r->what.c_str());
            HBF_CHECK_MSG(!r->late, "%s: %s ran after the io_context was destroyed", scenario,
                          r->what.c_str());
        }
    }

private:
    const world& w_;
    std::vector<std::shared_ptr<record>> all_;
};

/// A connected loopback pair: `ours` for the session, `theirs` for a raw peer.
struct socket_pair {
    tcp::socket ours;
    tcp::socket theirs;
};

socket_pair make_pair(asio::io_context& ioc, int buffer_size = 0) {
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket theirs(ioc);
    if (buffer_size > 0) {
        theirs.open(tcp::v4());
        theirs.set_option(asio::socket_base::receive_buffer_size(buffer_size));
    }
    theirs.connect(acceptor.local_endpoint());
    tcp::socket ours(ioc);
    acceptor.accept(ours);
    if (buffer_size > 0)
        ours.set_option(asio::socket_base::send_buffer_size(buffer_size));
    return {std::move(ours), std::move(theirs)};
}

/// `high_water`: options::send_high_water_mark. Zero (every send pending until written) for the
/// fixed scenarios, which destroy and cancel sends still in flight.
heartbeat::options lifetime_options(std::size_t high_water = 0) {
    heartbeat::options o;
    o.send_high_water_mark = high_water;
    o.ping_interval = 20ms;
    o.read_timeout = 2000ms;
    o.write_timeout = 2000ms;
    o.max_frame_size = 4 * 1024 * 1024;
    o.send_queue_limit = o.receive_queue_limit = 16 * 1024 * 1024;
    return o;
}

template <class Framing>
using session_t = heartbeat::heartbeat_session<tcp::socket, Framing>;
using line_session = session_t<heartbeat::line_framing>;

void write_raw(tcp::socket& s, const std::string& bytes) {
    asio::write(s, asio::buffer(bytes));
}

template <class Pred>
bool run_until(asio::io_context& ioc, Pred p) {
    return hbf::run_until(ioc, p, 5s);
}

// ---------------------------------------------------------------------------------------------
// Scenarios with a fixed stage and action.

void destroy_before_run() {
    world w;
    records recs(w);
    {
        asio::io_context ioc;
        auto pair = make_pair(ioc);
        { line_session idle(std::move(pair.ours), lifetime_options()); }
        auto pair2 = make_pair(ioc);
        std::optional<line_session> s(std::in_place, std::move(pair2.ours), lifetime_options());
        for (int i = 0; i < 3; ++i)
            s->async_send("queued " + std::to_string(i), probe(recs.make("send before run")));
        s->async_receive(probe(recs.make("receive before run")));
        s->async_receive(probe(recs.make("second receive before run")));
        s.reset();
        HBF_CHECK(hbf::drain(ioc));
        recs.check_exactly_once("destroy before run");
    }
    w.ioc_gone = true;
}

void destroy_mid_write() {
    world w;
    records recs(w);
    {
        asio::io_context ioc;
        auto pair = make_pair(ioc, 16 * 1024); // the peer never reads: the frame stays in flight
        std::optional<line_session> s(std::in_place, std::move(pair.ours), lifetime_options());
        s->async_run(probe(recs.make("run")));
        s->async_receive(probe(recs.make("receive")));
        auto sent = recs.make("big send in flight");
        s->async_send(std::string(4 * 1024 * 1024, 'w'), probe(sent));
        s->async_send("queued behind it", probe(recs.make("queued send")));
        HBF_CHECK(run_until(ioc, [&] { return s->statistics().bytes_sent > 16 * 1024; }));
        HBF_CHECK(sent->calls == 0);
        s.reset();
        HBF_CHECK(hbf::drain(ioc));
        HBF_CHECK(sent->ec == asio::error::operation_aborted);
        recs.check_exactly_once("destroy mid-write");
    }
    w.ioc_gone = true;
}

void destroy_mid_read() {
    world w;
    records recs(w);
    {
        asio::io_context ioc;
        auto pair = make_pair(ioc);
        std::optional<line_session> s(std::in_place, std::move(pair.ours), lifetime_options());
        auto run = recs.make("run");
        s->async_run(probe(run));
        auto rx = recs.make("receive");
        s->async_receive(probe(rx));
        write_raw(pair.theirs, "half-a-fr");
        HBF_CHECK(run_until(ioc, [&] { return s->statistics().bytes_received == 9; }));
        s.reset();
        HBF_CHECK(hbf::drain(ioc));
        HBF_CHECK(run->ec == asio::error::operation_aborted);
        HBF_CHECK(rx->ec == asio::error::operation_aborted);
        recs.check_exactly_once("destroy mid-read");
    }
    w.ioc_gone = true;
}

void destroy_inside_handlers() {
    for (int where = 0; where < 3; ++where) {
        static const char* names[] = {"destroy inside the run handler",
                                      "destroy inside a receive handler",
                                      "destroy inside a send handler"};
        world w;
        records recs(w);
        {
            asio::io_context ioc;
            auto pair = make_pair(ioc);
            std::optional<line_session> s(std::in_place, std::move(pair.ours), lifetime_options());
            auto destroy = [&s] {
                s.reset();
            };
            s->async_run(probe(recs.make("run"), where == 0 ? destroy : std::function<void()>{}));
            s->async_receive(
                probe(recs.make("receive"), where == 1 ? destroy : std::function<void()>{}));
            s->async_send("hi",
                          probe(recs.make("send"), where == 2 ? destroy : std::function<void()>{}));
            s->async_send("queued", probe(recs.make("second send")));
            write_raw(pair.theirs, "frame\n");
            if (where == 0)
                pair.theirs.close(); // the run ends with eof and its handler destroys the session
            HBF_CHECK(run_until(ioc, [&] { return !s.has_value(); }));
            HBF_CHECK(hbf::drain(ioc));
            recs.check_exactly_once(names[where]);
        }
        w.ioc_gone = true;
    }
}

void move_assign_over_running() {
    world w;
    records recs(w);
    {
        asio::io_context ioc;
        auto p1 = make_pair(ioc);
        auto p2 = make_pair(ioc);
        line_session a(std::move(p1.ours), lifetime_options());
        line_session b(std::move(p2.ours), lifetime_options());
        auto run_a = recs.make("run of the overwritten session");
        a.async_run(probe(run_a));
        a.async_receive(probe(recs.make("receive of the overwritten session")));
        b.async_run(probe(recs.make("run of the moved session")));
        hbf::run_for(ioc, 30ms);
        a = std::move(b);
        hbf::run_for(ioc, 30ms);
        HBF_CHECK(run_a->calls == 1 && run_a->ec == asio::error::operation_aborted);
        a.close();
        HBF_CHECK(hbf::drain(ioc));
        recs.check_exactly_once("move-assign over a running session");
    }
    w.ioc_gone = true;
}

void cancellation_at_every_stage() {
    using ct = asio::cancellation_type;
    const ct types[] = {ct::terminal, ct::partial, ct::total};
    for (ct type : types) {
        const bool ends_run = type != ct::total; // async_run honours terminal and partial only
        world w;
        records recs(w);
        {
            asio::cancellation_signal run_sig;
            asio::cancellation_signal rx_sig;
            asio::cancellation_signal queued_sig;
            asio::cancellation_signal flight_sig;
            asio::io_context ioc;
            auto pair = make_pair(ioc, 16 * 1024);
            std::optional<line_session> s(std::in_place, std::move(pair.ours), lifetime_options());

            // Before the run: a queued send and a waiting receive, cancelled at once.
            auto early_send = recs.make("send cancelled before the run");
            asio::cancellation_signal early_sig;
            s->async_send("early",
                          asio::bind_cancellation_slot(early_sig.slot(), probe(early_send)));
            early_sig.emit(type);
            hbf::drain(ioc);
            HBF_CHECK(early_send->ec == asio::error::operation_aborted);

            auto run = recs.make("run");
            s->async_run(asio::bind_cancellation_slot(run_sig.slot(), probe(run)));
            // Mid-read: a receive waiting while half a frame is buffered.
            auto rx = recs.make("receive cancelled mid-read");
            s->async_receive(asio::bind_cancellation_slot(rx_sig.slot(), probe(rx)));
            write_raw(pair.theirs, "half");
            HBF_CHECK(run_until(ioc, [&] { return s->statistics().bytes_received >= 4; }));
            rx_sig.emit(type);
            HBF_CHECK(run_until(ioc, [&] { return rx->calls == 1; }));
            HBF_CHECK(rx->ec == asio::error::operation_aborted);
            HBF_CHECK(run->calls == 0); // a receive's cancellation leaves the session running

            // Mid-write: a frame in flight (cannot be cancelled) and one queued (can).
            auto flight = recs.make("send in flight, cancel ignored");
            auto queued = recs.make("queued send cancelled");
            s->async_send(std::string(4 * 1024 * 1024, 'f'),
                          asio::bind_cancellation_slot(flight_sig.slot(), probe(flight)));
            s->async_send("queued", asio::bind_cancellation_slot(queued_sig.slot(), probe(queued)));
            HBF_CHECK(run_until(ioc, [&] { return s->statistics().bytes_sent > 16 * 1024; }));
            flight_sig.emit(type);
            queued_sig.emit(type);
            HBF_CHECK(run_until(ioc, [&] { return queued->calls == 1; }));
            HBF_CHECK(queued->ec == asio::error::operation_aborted);
            hbf::run_for(ioc, 20ms);
            HBF_CHECK(flight->calls == 0);

            // The run itself.
            run_sig.emit(type);
            hbf::run_for(ioc, 20ms);
            HBF_CHECK(run->calls == (ends_run ? 1 : 0));
            if (!ends_run)
                s->close();
            HBF_CHECK(run_until(ioc, [&] { return run->calls == 1; }));
            HBF_CHECK(run->ec == asio::error::operation_aborted);
            HBF_CHECK(hbf::drain(ioc));
            // Cancelling after completion: the slots were cleared, nothing happens.
            run_sig.emit(type);
            rx_sig.emit(type);
            flight_sig.emit(type);
            HBF_CHECK(hbf::drain(ioc));
            s.reset();
            HBF_CHECK(hbf::drain(ioc));
            recs.check_exactly_once("cancellation at every stage");
        }
        w.ioc_gone = true;
    }
}

/// Cancellation that arrives after an operation's completion was decided but before its handler
/// ran (a receive given a held frame, a send refused at once, a run already ended) must change
/// nothing: the handler runs once, with the original result.
void cancel_after_completion_was_queued() {
    using ct = asio::cancellation_type;
    for (ct type : {ct::terminal, ct::partial, ct::total}) {
        world w;
        records recs(w);
        {
            asio::cancellation_signal rx_sig, send_sig, run_sig;
            asio::io_context ioc;
            auto pair = make_pair(ioc);
            auto o = lifetime_options();
            o.max_frame_size = 64;
            o.send_queue_limit = 64;
            std::optional<line_session> s(std::in_place, std::move(pair.ours), o);
            auto run = recs.make("run");
            s->async_run(asio::bind_cancellation_slot(run_sig.slot(), probe(run)));
            write_raw(pair.theirs, "held\n");
            HBF_CHECK(run_until(ioc, [&] { return s->statistics().frames_received == 1; }));
            // The frame is held: this receive's result is decided now, its handler queued.
            auto rx = recs.make("receive of a held frame, then cancelled");
            s->async_receive(asio::bind_cancellation_slot(rx_sig.slot(), probe(rx)));
            rx_sig.emit(type);
            // A send refused at once (too large), then cancelled.
            auto refused = recs.make("refused send, then cancelled");
            s->async_send(std::string(65, 'x'),
                          asio::bind_cancellation_slot(send_sig.slot(), probe(refused)));
            send_sig.emit(type);
            HBF_CHECK(run_until(ioc, [&] { return rx->calls == 1 && refused->calls == 1; }));
            HBF_CHECK_MSG(!rx->ec && rx->frame == "held", "receive: %s, frame '%s'",
                          rx->ec.message().c_str(), rx->frame.c_str());
            HBF_CHECK(refused->ec == heartbeat::error::frame_too_large);
            // A receive that waits (its slot connected) when the session ends: its result is
            // decided by stop(), then it is cancelled before its handler ran.
            asio::cancellation_signal wait_sig;
            auto waiting = recs.make("waiting receive, session closed, then cancelled");
            s->async_receive(asio::bind_cancellation_slot(wait_sig.slot(), probe(waiting)));
            ioc.restart();
            ioc.poll();
            s->close();          // posts the stop
            ioc.run_one_for(1s); // runs it: the receive's completion is queued, not run
            wait_sig.emit(type);
            run_sig.emit(type);
            HBF_CHECK(hbf::drain(ioc));
            HBF_CHECK(waiting->ec == asio::error::operation_aborted);
            HBF_CHECK(run->ec == asio::error::operation_aborted);
            s.reset();
            HBF_CHECK(hbf::drain(ioc));
            recs.check_exactly_once("cancel after the completion was queued");
        }
        w.ioc_gone = true;
    }
}

/// The io_context is destroyed while the session (or only its internal operations) still has
/// work in it: handlers are destroyed unrun, the state is freed, nothing leaks (LeakSanitizer).
void io_context_destroyed_under_the_session() {
    for (int variant = 0; variant < 4; ++variant) {
        static const char* names[] = {
            "io_context destroyed after the handle, completions unrun",
            "io_context destroyed with only internal operations pending",
            "io_context destroyed with a close() posted",
            "io_context destroyed with a big frame in flight",
        };
        world w;
        records recs(w);
        {
            asio::io_context ioc;
            auto pair = make_pair(ioc, 16 * 1024);
            std::optional<line_session> s(std::in_place, std::move(pair.ours), lifetime_options());
            s->async_run(probe(recs.make("run")));
            if (variant != 1)
                s->async_receive(probe(recs.make("receive")));
            if (variant == 0 || variant == 3)
                s->async_send(std::string(variant == 3 ? 4 * 1024 * 1024 : 10, 's'),
                              probe(recs.make("send")));
            hbf::run_for(ioc, 30ms);
            if (variant == 2)
                s->close();
            s.reset(); // stop() posts what remains; the io_context never runs it
            pair.theirs.close();
        }
        // The io_context (declared inside) is gone here; the sockets went before it.
        w.ioc_gone = true;
        recs.check_at_most_once(names[variant]);
    }
}

// ---------------------------------------------------------------------------------------------
// A randomised mix: random operations, a random number of steps, then a random way to end.

template <class Framing>
std::string frame_bytes(const std::string& payload) {
    Framing f;
    char header[Framing::max_header_size + 1];
    char trailer[Framing::max_trailer_size + 1];
    const std::size_t h = f.encode_header(payload.size(), header);
    const std::size_t t = f.encode_trailer(trailer);
    return std::string(header, h) + payload + std::string(trailer, t);
}

template <class Framing>
void random_round(std::mt19937& rng, int& ended_by_ioc) {
    using session = session_t<Framing>;
    world w;
    records recs(w);
    bool destroy_ioc = false;
    {
        std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
        asio::io_context ioc;
        auto pair = make_pair(ioc, rng() % 2 ? 16 * 1024 : 0);
        // Sends pending until written, accepted until a small queue, or the default mark.
        const std::size_t marks[] = {0, 256, heartbeat::options().send_high_water_mark};
        std::optional<session> s(std::in_place, std::move(pair.ours),
                                 lifetime_options(marks[rng() % 3]));
        auto pick = [&](unsigned n) {
            return static_cast<unsigned>(rng() % n);
        };
        auto slot_for = [&] {
            signals.push_back(std::make_unique<asio::cancellation_signal>());
            return signals.back()->slot();
        };
        auto destroy = [&s] {
            s.reset();
        };
        bool ran = false;
        const unsigned steps = 2 + pick(10);
        for (unsigned step = 0; step < steps && s; ++step) {
            switch (pick(9)) {
            case 0:
                if (!ran) {
                    ran = true;
                    s->async_run(asio::bind_cancellation_slot(
                        slot_for(),
                        probe(recs.make("run"), pick(4) == 0 ? destroy : std::function<void()>{})));
                }
                break;
            case 1:
                if (pick(4) == 0) {
                    s->async_flush(asio::bind_cancellation_slot(
                        slot_for(), probe(recs.make("flush"),
                                          pick(6) == 0 ? destroy : std::function<void()>{})));
                    break;
                }
                s->async_send(
                    std::string(pick(3) == 0 ? 1024 * 1024 : 1 + pick(100), 'a'),
                    asio::bind_cancellation_slot(
                        slot_for(), probe(recs.make("send"),
                                          pick(6) == 0 ? destroy : std::function<void()>{})));
                break;
            case 2:
                s->async_receive(asio::bind_cancellation_slot(
                    slot_for(),
                    probe(recs.make("receive"), pick(6) == 0 ? destroy : std::function<void()>{})));
                break;
            case 3: { // the peer writes a frame, or half of one
                std::string bytes = frame_bytes<Framing>("payload " + std::to_string(step));
                if (pick(2))
                    bytes.resize(bytes.size() / 2);
                error_code ignored;
                asio::write(pair.theirs, asio::buffer(bytes), ignored);
                break;
            }
            case 4: { // the peer reads what is there
                error_code ignored;
                char buf[65536];
                if (pair.theirs.available(ignored) > 0)
                    pair.theirs.read_some(asio::buffer(buf), ignored);
                break;
            }
            case 5: // cancel some earlier operation with some type
                if (!signals.empty()) {
                    const asio::cancellation_type types[] = {asio::cancellation_type::terminal,
                                                             asio::cancellation_type::partial,
                                                             asio::cancellation_type::total};
                    signals[pick(static_cast<unsigned>(signals.size()))]->emit(types[pick(3)]);
                }
                break;
            case 6:
                for (unsigned i = pick(20); i > 0; --i)
                    ioc.poll_one();
                break;
            case 7:
                hbf::run_for(ioc, std::chrono::milliseconds(pick(25)));
                break;
            case 8:
                if (pick(3) == 0) {
                    error_code ignored;
                    pair.theirs.close(ignored); // the peer goes away
                }
                break;
            }
        }
        // The ending.
        switch (pick(5)) {
        case 0:
            if (s)
                s->close();
            break;
        case 1:
            s.reset();
            break;
        case 2: // the io_context is destroyed with whatever is pending
            destroy_ioc = true;
            break;
        default: // emit terminal cancellation on everything, then close
            for (auto& sig : signals)
                sig->emit(asio::cancellation_type::terminal);
            if (s)
                s->close();
            break;
        }
        if (!destroy_ioc) {
            HBF_CHECK(hbf::drain(ioc));
            s.reset();
            HBF_CHECK(hbf::drain(ioc));
        } else {
            s.reset();
            ++ended_by_ioc;
        }
        pair.theirs.close();
    }
    w.ioc_gone = true;
    if (destroy_ioc)
        recs.check_at_most_once("random round, io_context destroyed");
    else
        recs.check_exactly_once("random round");
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 300;
    const auto start = clock::now();
    destroy_before_run();
    destroy_mid_write();
    destroy_mid_read();
    destroy_inside_handlers();
    move_assign_over_running();
    cancellation_at_every_stage();
    cancel_after_completion_was_queued();
    io_context_destroyed_under_the_session();
    std::mt19937 rng(12345);
    int ended_by_ioc = 0;
    for (int i = 0; i < rounds; ++i) {
        if (i % 2)
            random_round<heartbeat::line_framing>(rng, ended_by_ioc);
        else
            random_round<heartbeat::length_prefixed_framing>(rng, ended_by_ioc);
    }
    std::printf("lifetime: 8 fixed scenarios and %d random rounds (%d ending with the "
                "io_context destroyed) in %.1f s: %d failed checks\n",
                rounds, ended_by_ioc, hbf::ms(clock::now() - start) / 1000, hbf::check_failures());
    return hbf::check_failures() == 0 ? 0 : 1;
}
