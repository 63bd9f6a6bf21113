// An in-memory AsyncStream for driving a whole heartbeat_session from a fuzz input. The far
// end (fuzz_peer) is scripted by the fuzzer: bytes to deliver and in what chunks, end of
// stream, read errors, how much each write takes, writes that block until released, write
// errors. Every operation completes through asio::post, never inline; close() completes what
// is pending with operation_aborted. It also checks the session's promise of at most one read
// and one write in flight.
#ifndef HEARTBEAT_TESTS_FUZZ_FUZZ_STREAM_HPP
#define HEARTBEAT_TESTS_FUZZ_FUZZ_STREAM_HPP

#include "fuzz_input.hpp"

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace hbfuzz {

using executor = asio::io_context::executor_type;

/// A pending read or write: its handler, type-erased.
class pending_op {
public:
    virtual ~pending_op() = default;
    /// Posts the handler with (ec, n); the object is spent afterwards.
    virtual void complete(std::error_code ec, std::size_t n) = 0;
};

template <class Handler>
class pending_impl final : public pending_op {
public:
    pending_impl(Handler&& h, const executor& ex)
        : handler_(std::move(h))
        , ex_(ex) {}
    void complete(std::error_code ec, std::size_t n) override {
        auto ex = asio::get_associated_executor(handler_, ex_);
        asio::post(ex, [h = std::move(handler_), ec, n]() mutable { h(ec, n); });
    }

private:
    Handler handler_;
    executor ex_;
};

/// The scripted far end, shared by the stream (inside the session) and the fuzz driver.
struct fuzz_peer {
    static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

    explicit fuzz_peer(const executor& ex)
        : ex(ex) {}

    executor ex;
    // What the session will read.
    std::string inbound;
    std::string inbound_log; // every byte ever given, for the reference decode
    bool eof = false;
    std::error_code read_error;
    std::size_t read_chunk = unlimited;
    // What the session wrote.
    std::string outbound;
    std::size_t write_cap = unlimited;
    bool write_blocked = false;
    std::error_code write_error;
    bool closed = false;
    // At most one of each in flight.
    std::unique_ptr<pending_op> read_op;
    std::vector<asio::mutable_buffer> read_bufs;
    std::unique_ptr<pending_op> write_op;
    std::vector<asio::const_buffer> write_bufs;
    std::size_t reads = 0;
    std::size_t writes = 0;

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
    void fail_reads(std::error_code ec) {
        read_error = ec;
        try_read();
    }
    void block_writes(bool on) {
        write_blocked = on;
        try_write();
    }
    void fail_writes(std::error_code ec) {
        write_error = ec;
        try_write();
    }
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
        if (room == 0) {
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
};

/// The stream the session owns: a handle on the shared fuzz_peer.
class fuzz_stream {
public:
    using executor_type = executor;

    fuzz_stream(const executor& ex, std::shared_ptr<fuzz_peer> peer)
        : ex_(ex)
        , peer_(std::move(peer)) {}

    executor_type get_executor() const noexcept { return ex_; }

    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, const MutableBufferSequence& bufs) {
                auto& p = *peer_;
                HBFUZZ_ASSERT(!p.read_op); // one read in flight at a time
                ++p.reads;
                auto op =
                    std::make_unique<pending_impl<decltype(handler)>>(std::move(handler), ex_);
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
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, const ConstBufferSequence& bufs) {
                auto& p = *peer_;
                HBFUZZ_ASSERT(!p.write_op); // one write in flight at a time
                ++p.writes;
                auto op =
                    std::make_unique<pending_impl<decltype(handler)>>(std::move(handler), ex_);
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

    void close(std::error_code& ec) {
        ec = {};
        peer_->close();
    }

private:
    executor ex_;
    std::shared_ptr<fuzz_peer> peer_;
};

} // namespace hbfuzz

#endif
