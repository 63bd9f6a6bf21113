// An in-memory AsyncReadStream + AsyncWriteStream for driving a whole heartbeat_session without
// sockets: memory_stream is the end the session owns, memory_peer the far end the test (or the
// fuzzer, tests/fuzz/fuzz_stream.hpp) scripts. Both live on one executor.
//
// What the stream promises, like a socket:
//   - every completion is posted through the handler's associated executor, never run inline;
//   - a pending read or write honours its handler's cancellation slot (any cancellation type:
//     nothing of it has happened yet), completing with operation_aborted;
//   - close() completes what is pending with operation_aborted; later operations fail with
//     bad_descriptor;
//   - a pending operation counts as work of its io_context, and destroying the io_context
//     destroys the pending handlers unrun (a service of the context owns them, as Asio's
//     reactor owns a socket's), so nothing they hold leaks.
// What it checks of the session: at most one read and one write in flight (violation()).
//
// The far end, scripted: give() bytes for the session to read (in chunks of read_chunk at most),
// end_of_stream(), fail_reads(ec); what the session wrote is in `outbound` (take_written()
// returns what is new); write_cap bounds each write (partial writes), block_writes(true) stops
// accepting so a write stays pending (a peer that stops reading), accept(n) lets a blocked write
// take n bytes (a slow peer), fail_writes(ec) fails writes. interrupt_read() and
// interrupt_write() complete the next read or write (the pending one, if any) with
// error::interrupted, once, as a signal does to a read or write under io_uring.
#ifndef HEARTBEAT_TESTS_MEMORY_STREAM_HPP
#define HEARTBEAT_TESTS_MEMORY_STREAM_HPP

#include "net.hpp" // asio:: and hbt::error_code, over standalone Asio or Boost.Asio

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#else
#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/execution_context.hpp>
#include <asio/executor_work_guard.hpp>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace hbt {

/// The stream saw the session break a promise (two reads in flight...). The default reports and
/// aborts; a harness may install its own (it must not return).
using memory_violation_hook = void (*)(const char* what, const char* file, int line);
inline memory_violation_hook& memory_violation() {
    static memory_violation_hook hook = [](const char* what, const char* file, int line) {
        std::fprintf(stderr, "%s:%d: memory_stream: %s\n", file, line, what);
        std::fflush(stderr);
        std::abort();
    };
    return hook;
}
#define HBT_MEMORY_CHECK(cond)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ::hbt::memory_violation()(#cond, __FILE__, __LINE__);                                  \
    } while (0)

class memory_peer;

namespace detail_mem {

/// A pending read or write: its handler, type-erased, with the work it keeps alive.
class pending_op {
public:
    virtual ~pending_op() = default;
    /// Posts the handler with (ec, n); the object is spent afterwards.
    virtual void complete(error_code ec, std::size_t n) = 0;
};

/// Owns the pending operations of every memory_peer of one execution context, so that
/// destroying the context destroys them (and what their handlers hold), like a reactor does.
class service : public asio::execution_context::service {
public:
    using key_type = service;
    static inline asio::execution_context::id id;

    explicit service(asio::execution_context& ctx)
        : asio::execution_context::service(ctx) {}

    void add(const std::weak_ptr<memory_peer>& peer) {
        const std::lock_guard<std::mutex> lock(mutex_);
        peers_.erase(
            std::remove_if(peers_.begin(), peers_.end(), [](const auto& p) { return p.expired(); }),
            peers_.end());
        peers_.push_back(peer);
    }

    void shutdown() override;

private:
    std::mutex mutex_;
    std::vector<std::weak_ptr<memory_peer>> peers_;
};

} // namespace detail_mem

/// The far end, shared by the stream (inside the session) and the test.
class memory_peer : public std::enable_shared_from_this<memory_peer> {
public:
    static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();
    using executor_type = asio::any_io_executor;

    /// Owned by a shared_ptr (std::make_shared), shared with the stream.
    explicit memory_peer(const executor_type& e)
        : ex(e) {}

    executor_type ex;
    // What the session will read.
    std::string inbound;
    std::string inbound_log; // every byte ever given
    bool eof = false;
    error_code read_error;
    bool read_interrupted = false; // once
    std::size_t read_chunk = unlimited;
    // What the session wrote.
    std::string outbound;
    std::size_t taken = 0; // of outbound, by take_written()
    std::size_t write_cap = unlimited;
    bool write_blocked = false;
    error_code write_error;
    bool write_interrupted = false; // once
    bool closed = false;
    // At most one of each in flight.
    std::unique_ptr<detail_mem::pending_op> read_op;
    std::vector<asio::mutable_buffer> read_bufs;
    std::unique_ptr<detail_mem::pending_op> write_op;
    std::vector<asio::const_buffer> write_bufs;
    std::size_t reads = 0;  // started
    std::size_t writes = 0; // started

    // ---- The far end writes. ----------------------------------------------------------------
    void give(const std::string& bytes) {
        if (eof || read_error)
            return; // nothing comes after the end
        inbound += bytes;
        inbound_log += bytes;
        try_read();
    }
    void end_of_stream() {
        eof = true;
        try_read();
    }
    void fail_reads(error_code ec) {
        read_error = ec;
        try_read();
    }
    void interrupt_read() {
        read_interrupted = true;
        try_read();
    }

    // ---- The far end reads. -----------------------------------------------------------------
    /// What the session wrote since the last call.
    std::string take_written() {
        std::string s = outbound.substr(taken);
        taken = outbound.size();
        return s;
    }
    void block_writes(bool on) {
        write_blocked = on;
        try_write();
    }
    /// A blocked write takes up to `n` bytes now (a slow reader); returns how many it took.
    std::size_t accept(std::size_t n) {
        if (!write_op)
            return 0;
        const std::size_t cap = std::exchange(write_cap, n);
        const bool blocked = std::exchange(write_blocked, false);
        const std::size_t before = outbound.size();
        try_write();
        write_cap = cap;
        write_blocked = blocked;
        return outbound.size() - before;
    }
    void fail_writes(error_code ec) {
        write_error = ec;
        try_write();
    }
    void interrupt_write() {
        write_interrupted = true;
        try_write();
    }

    bool read_pending() const noexcept { return read_op != nullptr; }
    bool write_pending() const noexcept { return write_op != nullptr; }

    // ---- The session's end closed. ----------------------------------------------------------
    void close() {
        closed = true;
        if (read_op)
            std::exchange(read_op, nullptr)->complete(asio::error::operation_aborted, 0);
        if (write_op)
            std::exchange(write_op, nullptr)->complete(asio::error::operation_aborted, 0);
    }

    void try_read() {
        if (!read_op)
            return;
        const std::size_t room = asio::buffer_size(read_bufs);
        if (std::exchange(read_interrupted, false)) {
            std::exchange(read_op, nullptr)->complete(asio::error::interrupted, 0);
        } else if (room == 0) {
            std::exchange(read_op, nullptr)->complete({}, 0);
        } else if (!inbound.empty()) {
            const std::size_t n = asio::buffer_copy(
                read_bufs, asio::buffer(inbound.data(), std::min(read_chunk, inbound.size())));
            inbound.erase(0, n);
            std::exchange(read_op, nullptr)->complete({}, n);
        } else if (read_error) {
            std::exchange(read_op, nullptr)->complete(read_error, 0);
        } else if (eof) {
            std::exchange(read_op, nullptr)->complete(asio::error::eof, 0);
        }
    }

    void try_write() {
        if (!write_op)
            return;
        if (write_error) {
            std::exchange(write_op, nullptr)->complete(write_error, 0);
            return;
        }
        if (std::exchange(write_interrupted, false)) {
            std::exchange(write_op, nullptr)->complete(asio::error::interrupted, 0);
            return;
        }
        if (write_blocked)
            return;
        std::size_t n = 0;
        for (const auto& b : write_bufs) {
            const std::size_t take = std::min(b.size(), write_cap - n);
            outbound.append(static_cast<const char*>(b.data()), take);
            n += take;
            if (n == write_cap)
                break;
        }
        std::exchange(write_op, nullptr)->complete({}, n);
    }

    /// A cancellation slot fired for the pending read (or write): it completes aborted.
    void cancel(bool read) {
        auto& op = read ? read_op : write_op;
        if (op)
            std::exchange(op, nullptr)->complete(asio::error::operation_aborted, 0);
    }

    /// The context is going away: pending handlers are destroyed unrun.
    void abandon() noexcept {
        auto r = std::move(read_op);
        auto w = std::move(write_op);
        r.reset();
        w.reset();
    }

    /// Registers with the context's service, which destroys what is pending with the context.
    void register_once() {
        if (registered_)
            return;
        registered_ = true;
        asio::use_service<detail_mem::service>(asio::query(ex, asio::execution::context))
            .add(weak_from_this());
    }

private:
    bool registered_ = false;
};

namespace detail_mem {

inline void service::shutdown() {
    std::vector<std::shared_ptr<memory_peer>> live;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        for (auto& w : peers_)
            if (auto p = w.lock())
                live.push_back(std::move(p));
        peers_.clear();
    }
    for (auto& p : live)
        p->abandon();
}

template <class Handler>
class pending_impl final : public pending_op {
public:
    using slot_type = asio::associated_cancellation_slot_t<Handler>;

    pending_impl(Handler&& h, const asio::any_io_executor& io_ex, memory_peer& peer, bool read)
        : handler_(std::move(h))
        , work_(asio::make_work_guard(io_ex))
        , slot_(asio::get_associated_cancellation_slot(handler_)) {
        if (slot_.is_connected()) {
            slot_.template emplace<canceller>(
                canceller{std::weak_ptr<memory_peer>(peer.shared_from_this()), read});
        }
    }
    ~pending_impl() override {
        if (slot_.is_connected())
            slot_.clear();
    }
    pending_impl(const pending_impl&) = delete;
    pending_impl& operator=(const pending_impl&) = delete;

    void complete(error_code ec, std::size_t n) override {
        if (slot_.is_connected())
            slot_.clear(); // decided: a later cancellation finds nothing
        auto ex = asio::get_associated_executor(handler_, work_.get_executor());
        auto work = std::move(work_);
        asio::post(ex, [h = std::move(handler_), ec, n, work = std::move(work)]() mutable {
            work.reset();
            std::move(h)(ec, n);
        });
    }

private:
    struct canceller {
        std::weak_ptr<memory_peer> peer;
        bool read;
        void operator()(asio::cancellation_type) const {
            if (auto p = peer.lock())
                p->cancel(read); // destroys this canceller: touch nothing after
        }
    };

    Handler handler_;
    asio::executor_work_guard<asio::any_io_executor> work_;
    slot_type slot_;
};

} // namespace detail_mem

/// The end the session owns: a handle on the shared memory_peer.
class memory_stream {
public:
    using executor_type = asio::any_io_executor;

    memory_stream(const executor_type& ex, std::shared_ptr<memory_peer> peer)
        : ex_(ex)
        , peer_(std::move(peer)) {}

    executor_type get_executor() const noexcept { return ex_; }
    memory_peer& peer() const noexcept { return *peer_; }

    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        return asio::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, const MutableBufferSequence& bufs) {
                auto& p = *peer_;
                HBT_MEMORY_CHECK(!p.read_op); // one read in flight at a time
                ++p.reads;
                auto op = make_op(std::move(handler), true);
                if (p.closed) {
                    op->complete(asio::error::bad_descriptor, 0);
                    return;
                }
                p.read_bufs.assign(asio::buffer_sequence_begin(bufs),
                                   asio::buffer_sequence_end(bufs));
                p.read_op = std::move(op);
                p.try_read();
            },
            token, buffers);
    }

    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        return asio::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, const ConstBufferSequence& bufs) {
                auto& p = *peer_;
                HBT_MEMORY_CHECK(!p.write_op); // one write in flight at a time
                ++p.writes;
                auto op = make_op(std::move(handler), false);
                if (p.closed) {
                    op->complete(asio::error::bad_descriptor, 0);
                    return;
                }
                p.write_bufs.assign(asio::buffer_sequence_begin(bufs),
                                    asio::buffer_sequence_end(bufs));
                p.write_op = std::move(op);
                p.try_write();
            },
            token, buffers);
    }

    void close(error_code& ec) {
        ec = {};
        peer_->close();
    }

private:
    template <class Handler>
    std::unique_ptr<detail_mem::pending_op> make_op(Handler&& handler, bool read) {
        peer_->register_once();
        return std::make_unique<detail_mem::pending_impl<std::decay_t<Handler>>>(
            std::forward<Handler>(handler), ex_, *peer_, read);
    }

    executor_type ex_;
    std::shared_ptr<memory_peer> peer_;
};

} // namespace hbt

#endif
