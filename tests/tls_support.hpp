// TLS fixtures for the heartbeat tests: a self-signed certificate made once per process (see
// examples/self_signed.hpp), server and client contexts that trust it, a loopback pair of
// asio::ssl::stream<tcp::socket> with both handshakes done and the client verifying the server
// as "localhost", and a scripted TLS peer that reads, writes and shuts down by hand.
#ifndef HEARTBEAT_TESTS_TLS_SUPPORT_HPP
#define HEARTBEAT_TESTS_TLS_SUPPORT_HPP

#include "support.hpp"

#include "self_signed.hpp"

#if defined(HEARTBEAT_USE_BOOST_ASIO) // see net.hpp
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#else
#include <asio/ssl.hpp>
#include <asio/write.hpp>
#endif

#include <array>
#include <memory>
#include <stdexcept>
#include <string>

namespace hbt {

using tls_stream = asio::ssl::stream<tcp::socket>;
using tls_session = heartbeat::heartbeat_session<tls_stream>;
using tls_lp_session = heartbeat::heartbeat_session<tls_stream, heartbeat::length_prefixed_framing>;

/// The name the test certificate is for, and that clients verify.
inline const char* tls_host() {
    return "localhost";
}

/// One certificate and one pair of contexts for the whole test process: key generation is the
/// slow part, and the contexts must outlive every stream made from them.
struct tls_contexts {
    asio::ssl::context server{asio::ssl::context::tls_server};
    asio::ssl::context client{asio::ssl::context::tls_client};
    std::string certificate_pem;

    tls_contexts() {
        std::string error;
        const self_signed::certificate cert = self_signed::make_localhost_certificate(error);
        if (!error.empty())
            throw std::runtime_error(error);
        certificate_pem = cert.certificate_pem;
        server.use_certificate_chain(asio::buffer(cert.certificate_pem));
        server.use_private_key(asio::buffer(cert.private_key_pem), asio::ssl::context::pem);
        // The client trusts exactly this certificate and verifies it (see tls_pair).
        client.add_certificate_authority(asio::buffer(cert.certificate_pem));
        client.set_verify_mode(asio::ssl::verify_peer);
    }
};

inline tls_contexts& tls() {
    static tls_contexts contexts;
    return contexts;
}

/// A client stream that checks the server's certificate against `host` (SNI included). The
/// callback lives in the stream, not the context, so each stream may check another name.
inline tls_stream tls_client_stream(tcp::socket socket, const std::string& host = tls_host()) {
    tls_stream s(std::move(socket), tls().client);
    s.set_verify_mode(asio::ssl::verify_peer);
    // host_name_verification exists since Asio 1.19 (rfc2818_verification, its predecessor, is
    // gone under ASIO_NO_DEPRECATED); the library needs Asio 1.22 anyway.
    s.set_verify_callback(asio::ssl::host_name_verification(host));
    SSL_set_tlsext_host_name(s.native_handle(), host.c_str());
    return s;
}

struct tls_streams {
    tls_stream client;
    tls_stream server;
};

/// Both handshakes' results, for the tests that expect one to fail.
struct handshake_result {
    error_code client;
    error_code server;
    bool done = false;
};

/// Handshakes a TCP pair as TLS client (pair.a) and server (pair.b) on `ioc`.
inline handshake_result handshake(asio::io_context& ioc, tls_streams& s) {
    auto client = std::make_shared<std::pair<bool, error_code>>();
    auto server = std::make_shared<std::pair<bool, error_code>>();
    s.client.async_handshake(asio::ssl::stream_base::client, [client](error_code ec) {
        *client = {true, ec};
    });
    s.server.async_handshake(asio::ssl::stream_base::server, [server](error_code ec) {
        *server = {true, ec};
    });
    handshake_result r;
    r.done = run_until(ioc, [&] { return client->first && server->first; });
    r.client = client->second;
    r.server = server->second;
    return r;
}

/// A connected loopback TLS pair, both handshakes done, the client having verified the server.
/// `buffer_size` as for tcp_pair (small kernel buffers make a non-reading peer stall writers).
inline tls_streams tls_pair(asio::io_context& ioc, int buffer_size = 0) {
    auto tcp = tcp_pair(ioc, buffer_size);
    tls_streams s{tls_client_stream(std::move(tcp.a)), tls_stream(std::move(tcp.b), tls().server)};
    const handshake_result r = handshake(ioc, s);
    REQUIRE(r.done);
    REQUIRE(r.client == error_code());
    REQUIRE(r.server == error_code());
    return s;
}

// ---------------------------------------------------------------------------------------------
// The scripted TLS peer: the other end of a session, driven by hand. Until told otherwise it
// does nothing at all, like a hung process whose kernel still ACKs: it neither reads nor writes.

class tls_peer {
    struct data {
        explicit data(tls_stream s)
            : stream(std::move(s)) {}
        tls_stream stream;
        bool stopped = false;

        bool reading = false;
        bool answer_close_notify = false;
        bool read_ended = false;
        error_code read_error;
        clock::time_point read_end{};
        std::string received;
        std::array<char, 16 * 1024> buffer{};

        bool writing = false;
        bool write_done = false;
        error_code write_error;

        bool shutdown_started = false;
        bool shutdown_done = false;
        error_code shutdown_error;
        clock::time_point shutdown_end{};
    };

public:
    explicit tls_peer(tls_stream stream)
        : d_(std::make_shared<data>(std::move(stream))) {}
    tls_peer(const tls_peer&) = delete;
    tls_peer& operator=(const tls_peer&) = delete;
    ~tls_peer() {
        d_->stopped = true;
        error_code ignored;
        d_->stream.lowest_layer().close(ignored);
    }

    tls_stream& stream() { return d_->stream; }

    /// Reads (decrypted) until an error into received(). A close_notify ends the read with eof,
    /// a TCP end without one with ssl::error::stream_truncated. With `answer_close_notify`, the
    /// peer then sends its own close_notify (async_shutdown), as a well-behaved TLS peer does.
    void start_reading(bool answer_close_notify = true) {
        d_->answer_close_notify = answer_close_notify;
        if (!d_->reading) {
            d_->reading = true;
            read(d_);
        }
    }
    const std::string& received() const { return d_->received; }
    bool read_ended() const { return d_->read_ended; }
    error_code read_error() const { return d_->read_error; }
    clock::time_point read_end() const { return d_->read_end; }

    /// Writes `bytes` as application data (one write at a time).
    void write(std::string bytes) {
        REQUIRE_FALSE(d_->writing);
        d_->writing = true;
        auto buffer = std::make_shared<std::string>(std::move(bytes));
        asio::async_write(d_->stream, asio::buffer(*buffer),
                          [d = d_, buffer](error_code ec, std::size_t) {
                              d->writing = false;
                              d->write_done = true;
                              d->write_error = ec;
                          });
    }
    bool write_done() const { return d_->write_done; }
    error_code write_error() const { return d_->write_error; }

    /// Sends close_notify and waits for the answer (async_shutdown).
    void shutdown() { start_shutdown(d_); }
    bool shutdown_started() const { return d_->shutdown_started; }
    bool shutdown_done() const { return d_->shutdown_done; }
    error_code shutdown_error() const { return d_->shutdown_error; }
    clock::time_point shutdown_end() const { return d_->shutdown_end; }

    /// What the peer saw, for failure messages.
    std::string describe() const {
        auto text = [](const error_code& ec) {
            return std::string(ec.category().name()) + ":" + std::to_string(ec.value()) + " (" +
                   ec.message() + ")";
        };
        std::string s = "peer: received " + std::to_string(d_->received.size()) + " bytes; read ";
        s += d_->read_ended ? "ended with " + text(d_->read_error) : std::string("pending");
        s += "; shutdown ";
        s += !d_->shutdown_started ? std::string("not started")
             : d_->shutdown_done   ? "ended with " + text(d_->shutdown_error)
                                   : std::string("pending");
        return s;
    }

    /// Ends the TCP connection without a word of TLS: close(), or with `reset` an RST.
    void drop(bool reset = false) {
        error_code ignored;
        if (reset)
            d_->stream.lowest_layer().set_option(asio::socket_base::linger(true, 0), ignored);
        d_->stream.lowest_layer().close(ignored);
    }

private:
    static void read(const std::shared_ptr<data>& d) {
        d->stream.async_read_some(asio::buffer(d->buffer), [d](error_code ec, std::size_t n) {
            d->received.append(d->buffer.data(), n);
            if (!ec) {
                read(d);
                return;
            }
            d->read_ended = true;
            d->read_error = ec;
            d->read_end = clock::now();
            if (ec == asio::error::eof && d->answer_close_notify && !d->stopped)
                start_shutdown(d);
        });
    }

    static void start_shutdown(const std::shared_ptr<data>& d) {
        if (d->shutdown_started)
            return;
        d->shutdown_started = true;
        d->stream.async_shutdown([d](error_code ec) {
            d->shutdown_done = true;
            d->shutdown_error = ec;
            d->shutdown_end = clock::now();
        });
    }

    std::shared_ptr<data> d_;
};

} // namespace hbt

#endif
