// docs/guide.md, "TLS": a heartbeat session over asio::ssl::stream. The handshake comes first,
// on the stream; the session takes the encrypted stream and, when it ends while the peer is
// believed alive, says goodbye with close_notify within options::shutdown_timeout. Run as a
// test with a throwaway certificate for "localhost": one echo, then the client closes.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "snippet_support.hpp"

using tcp = asio::ip::tcp;

void use(std::shared_ptr<heartbeat::heartbeat_session<asio::ssl::stream<tcp::socket>>> session);

// begin-snippet: tls
using tls_stream = asio::ssl::stream<tcp::socket>;
using tls_session = heartbeat::heartbeat_session<tls_stream>;

void start_tls_client(asio::ssl::context& tls, tcp::socket socket, const std::string& host) {
    auto stream = std::make_shared<tls_stream>(std::move(socket), tls);
    stream->set_verify_mode(asio::ssl::verify_peer);
    stream->set_verify_callback(asio::ssl::host_name_verification(host));
    SSL_set_tlsext_host_name(stream->native_handle(), host.c_str()); // SNI
    stream->async_handshake(asio::ssl::stream_base::client, [stream](std::error_code ec) {
        if (ec) {
            std::cerr << "TLS handshake: " << ec.message() << "\n";
            return;
        }
        heartbeat::options opts;
        opts.shutdown_timeout = std::chrono::seconds(2); // the close_notify exchange, bounded
        auto session = std::make_shared<tls_session>(std::move(*stream), opts);
        session->async_run([session](std::error_code ec) {
            std::cout << "TLS session ended: " << ec.message() << "\n";
        });
        use(session); // the application: send, receive, close()
    });
}
// end-snippet: tls

// begin-snippet: tls_connector
// reconnecting_client<tls_stream>: each attempt connects and shakes hands; the client runs a
// session on the stream it gets. One slot cancels both steps.
heartbeat::reconnecting_client<tls_stream>::connect_function tls_connector(asio::io_context& io,
                                                                           asio::ssl::context& tls,
                                                                           tcp::endpoint server,
                                                                           std::string host) {
    return [&io, &tls, server, host](heartbeat::connect_handler<tls_stream> done) {
        auto stream = std::make_unique<tls_stream>(io, tls);
        stream->set_verify_mode(asio::ssl::verify_peer);
        stream->set_verify_callback(asio::ssl::host_name_verification(host));
        SSL_set_tlsext_host_name(stream->native_handle(), host.c_str()); // SNI
        tls_stream& s = *stream;
        const auto slot = done.get_cancellation_slot();
        s.next_layer().async_connect(
            server, asio::bind_cancellation_slot(slot, [stream = std::move(stream), slot,
                                                        done = std::move(done)](
                                                           std::error_code ec) mutable {
                if (ec)
                    return done(ec, std::move(*stream));
                if (done.cancelled()) // close() or connect_timeout between the two steps
                    return done(asio::error::operation_aborted, std::move(*stream));
                tls_stream& s = *stream;
                s.async_handshake(
                    asio::ssl::stream_base::client,
                    asio::bind_cancellation_slot(
                        slot, [stream = std::move(stream), done = std::move(done)](
                                  std::error_code ec) mutable { done(ec, std::move(*stream)); }));
            }));
    };
}
// end-snippet: tls_connector

namespace {

// A throwaway self-signed certificate for "localhost", valid 2000-2100, and its P-256 key.
const char certificate[] = R"(-----BEGIN CERTIFICATE-----
MIIBYTCCAQegAwIBAgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAlsb2NhbGhv
c3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNVBAMM
CWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABFTWZaIzDjiWCkHT
nN8quKScTibGjjTR7OltW79WZK22LOaSXeFaHoFIKIA16FuYLjXLWASwpdkltRBG
tumq7KyjSDBGMA8GA1UdEwEB/wQFMAMBAf8wFAYDVR0RBA0wC4IJbG9jYWxob3N0
MB0GA1UdDgQWBBTDm+XFg1t7lWrnjPYh5knutcmAqDAKBggqhkjOPQQDAgNIADBF
AiEA+R5FUK4VpE6BpVx+u8DEBkzN5Uenc8ai09Uxv8da93ICICp6gb8g/8ndhyxA
hU68KMSA/LTg8+8Erl9eUrRt5QgI
-----END CERTIFICATE-----
)";
const char private_key[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1qsAo0OQx9aPK9CO
3miUHQnFzleRo6+Flihmm1f8GkqhRANCAARU1mWiMw44lgpB05zfKriknE4mxo40
0ezpbVu/VmSttizmkl3hWh6BSCiANehbmC41y1gEsKXZJbUQRrbpquys
-----END PRIVATE KEY-----
)";

std::string echoed;
std::weak_ptr<tls_session> client; // expires once the client's run completed
bool server_ended = false;

} // namespace

void use(std::shared_ptr<tls_session> session) {
    client = session;
    session->async_send("hello", [](std::error_code) {});
    session->async_receive([session](std::error_code ec, std::string frame) {
        if (!ec)
            echoed = std::move(frame);
        session->close();
    });
}

int main() {
    asio::ssl::context server_tls(asio::ssl::context::tls_server);
    server_tls.use_certificate_chain(asio::buffer(certificate, sizeof certificate - 1));
    server_tls.use_private_key(asio::buffer(private_key, sizeof private_key - 1),
                               asio::ssl::context::pem);
    asio::ssl::context client_tls(asio::ssl::context::tls_client);
    client_tls.add_certificate_authority(asio::buffer(certificate, sizeof certificate - 1));

    asio::io_context io;
    auto pair = snippet::loopback_pair(io);
    auto server_stream = std::make_shared<tls_stream>(std::move(pair.b), server_tls);
    server_stream->async_handshake(
        asio::ssl::stream_base::server, [&, server_stream](std::error_code ec) {
            snippet::expect(!ec, "server handshake");
            if (ec)
                return;
            auto session = std::make_shared<tls_session>(std::move(*server_stream));
            session->async_run([session](std::error_code) { server_ended = true; });
            session->async_receive([session](std::error_code ec, std::string frame) {
                if (!ec)
                    session->async_send(std::move(frame), [](std::error_code) {});
            });
        });
    start_tls_client(client_tls, std::move(pair.a), "localhost");
    const bool ended =
        snippet::run_until(io, [] { return echoed.size() && client.expired() && server_ended; });
    snippet::expect(echoed == "hello", "the echo came back over TLS");
    snippet::expect(ended, "both sessions ended");

    // A reconnecting client over TLS: an echo server that accepts, shakes hands and echoes.
    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    acceptor.async_accept([&](std::error_code ec, tcp::socket socket) {
        if (ec)
            return;
        auto stream = std::make_shared<tls_stream>(std::move(socket), server_tls);
        stream->async_handshake(asio::ssl::stream_base::server, [stream](std::error_code ec) {
            if (ec)
                return;
            auto session = std::make_shared<tls_session>(std::move(*stream));
            session->async_run([session](std::error_code) {});
            session->async_receive([session](std::error_code ec, std::string frame) {
                if (!ec)
                    session->async_send(std::move(frame), [](std::error_code) {});
            });
        });
    });
    heartbeat::reconnecting_client<tls_stream> reconnecting(
        io.get_executor(), tls_connector(io, client_tls, acceptor.local_endpoint(), "localhost"));
    std::string again;
    bool stopped = false;
    reconnecting.async_run([&](std::error_code) { stopped = true; });
    reconnecting.async_send("again", [](std::error_code) {});
    reconnecting.async_receive([&](std::error_code ec, std::string frame) {
        if (!ec)
            again = std::move(frame);
        reconnecting.close();
    });
    snippet::expect(snippet::run_until(io, [&] { return stopped; }), "the TLS client stopped");
    snippet::expect(again == "again", "the echo came back through reconnecting_client over TLS");
    return snippet::exit_code("guide_tls");
}
