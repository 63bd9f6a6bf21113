// One session round trip over loopback, written once and compiled twice: in standalone.cpp over
// standalone Asio, in boost.cpp over Boost.Asio (HEARTBEAT_USE_BOOST_ASIO). Both land in one
// program, which only works when the two flavours share no definitions (see main.cpp).
#include "flavour_result.hpp"

#include <heartbeat/heartbeat.hpp>

#include <chrono>

template <class IoContext, class Socket, class Acceptor, class Endpoint, class Address,
          class ErrorCode>
flavour_result round_trip() {
    using session = heartbeat::heartbeat_session<Socket>;
    IoContext io;
    Acceptor acceptor(io, Endpoint(Address::loopback(), 0));
    Socket client(io);
    client.connect(acceptor.local_endpoint());
    Socket server = acceptor.accept();

    heartbeat::options opts;
    opts.ping_interval = std::chrono::milliseconds(20);
    opts.read_timeout = std::chrono::milliseconds(500);
    session a(std::move(client), opts);
    session b(std::move(server), opts);
    flavour_result r;
    a.async_run([&](ErrorCode ec) { r.aborted = ec == heartbeat::net::error::operation_aborted; });
    b.async_run([](ErrorCode) {});
    b.async_receive([&](ErrorCode ec, std::string frame) {
        if (!ec)
            b.async_send(frame + "!", [](ErrorCode) {});
    });
    a.async_send("hello", [](ErrorCode) {});
    a.async_receive([&](ErrorCode ec, std::string frame) {
        r.echoed = ec ? ec.message() : frame;
        a.close();
        b.close();
    });
    io.run_for(std::chrono::seconds(5));
    r.unanswered_message = ErrorCode(heartbeat::error::unanswered_pings).message();
    r.category = &heartbeat::error_category();
    return r;
}
