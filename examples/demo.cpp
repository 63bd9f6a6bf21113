// demo: a heartbeat server and two clients in one process, for about two seconds. The healthy
// client pings and gets its lines echoed; the silent one stays connected but says nothing, like
// a hung process behind a live kernel, and the server's read timeout drops it after one second.
// Exits 0 when the silent client was dropped with heartbeat::error::timeout and the healthy one
// was not dropped.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#if defined(ASIO_NO_EXCEPTIONS)
// Without exceptions, Asio calls this instead of throwing (Boost.Asio: boost::throw_exception).
template <class Exception>
void asio::detail::throw_exception(const Exception& e) {
    std::cerr << "demo: " << e.what() << std::endl;
    std::abort();
}
#endif

using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

const clock_type::time_point demo_start = clock_type::now();

double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

// One line of the narrative, stamped with the time since the demo started.
void say(const std::string& text) {
    std::cout << "[" << std::fixed << std::setprecision(2) << std::setw(5)
              << seconds_since(demo_start) << " s] " << text << std::endl;
}

template <class T>
std::string str(const T& value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

// The server side of a connection: echo each frame back, one at a time.
void echo(session_type& session) {
    session.async_receive([&session](std::error_code ec, std::string frame) {
        if (ec)
            return;
        session.async_send(std::move(frame), [&session](std::error_code ec) {
            if (!ec)
                echo(session);
        });
    });
}

int main() {
    asio::io_context io;

    heartbeat::options server_opts;
    server_opts.ping_interval = milliseconds(300);
    server_opts.read_timeout = milliseconds(1000);

    heartbeat::options healthy_opts;
    healthy_opts.ping_interval = milliseconds(200);
    healthy_opts.read_timeout = milliseconds(1000);

    heartbeat::options silent_opts; // never pings, never answers a PING, never times out
    silent_opts.ping_interval = milliseconds(0);
    silent_opts.read_timeout = milliseconds(0);
    silent_opts.answer_pings = false;

    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    say("server: listening on " + str(acceptor.local_endpoint()) +
        ", read timeout 1000 ms, PING every 300 ms");

    // Both clients connect; the server tells them apart by their port.
    tcp::socket healthy_socket(io);
    tcp::socket silent_socket(io);
    healthy_socket.connect(acceptor.local_endpoint());
    say("healthy client: connected from " + str(healthy_socket.local_endpoint()) +
        ", PING every 200 ms");
    silent_socket.connect(acceptor.local_endpoint());
    say("silent client: connected from " + str(silent_socket.local_endpoint()) +
        ", will send nothing at all");
    std::map<unsigned short, std::string> name_of{
        {healthy_socket.local_endpoint().port(), "healthy"},
        {silent_socket.local_endpoint().port(), "silent"}};

    // The server: one session per accepted connection, keyed by the client's name.
    std::map<std::string, session_type> server;
    std::map<std::string, std::error_code> server_ended;
    for (int i = 0; i < 2; ++i) {
        tcp::socket socket = acceptor.accept();
        const std::string name = name_of[socket.remote_endpoint().port()];
        say("server: accepted the " + name + " client");
        server.emplace(name, session_type(std::move(socket), server_opts));
    }
    const clock_type::time_point server_start = clock_type::now();
    for (auto& [name, session] : server) {
        session.async_run([&, name = name, &session = session](std::error_code ec) {
            server_ended[name] = ec;
            std::ostringstream line;
            line << "server: session with the " << name << " client ended after " << std::fixed
                 << std::setprecision(2) << seconds_since(server_start) << " s: " << ec.message()
                 << (name == "silent" ? " (" + std::to_string(session.statistics().pings_sent) +
                                            " PINGs sent to it, none answered)"
                                      : std::string());
            say(line.str());
        });
        echo(session);
    }

    // The silent client only waits; the server will hang up on it.
    session_type silent(std::move(silent_socket), silent_opts);
    silent.async_run(
        [](std::error_code ec) { say("silent client: session ended: " + ec.message()); });

    // The healthy client sends two lines, prints the echoes, and leaves after 1.6 s.
    session_type healthy(std::move(healthy_socket), healthy_opts);
    std::error_code healthy_ended;
    int echoes = 0;
    healthy.async_run([&](std::error_code ec) {
        healthy_ended = ec;
        say("healthy client: session ended: " +
            (ec == asio::error::operation_aborted ? "closed by us" : ec.message()));
    });
    auto send = [&](std::string line) {
        say("healthy client: sends '" + line + "'");
        healthy.async_send(std::move(line), [](std::error_code) {});
    };
    std::function<void()> receive = [&] {
        healthy.async_receive([&](std::error_code ec, std::string frame) {
            if (ec)
                return;
            ++echoes;
            say("healthy client: echo '" + frame + "'");
            receive();
        });
    };
    receive();
    send("hello");

    asio::steady_timer second_line(io, milliseconds(500));
    second_line.async_wait([&](std::error_code) { send("still here"); });

    asio::steady_timer leave(io, milliseconds(1600));
    leave.async_wait([&](std::error_code) {
        const heartbeat::statistics s = healthy.statistics();
        say("healthy client: " + std::to_string(s.pings_sent) + " PINGs sent, " +
            std::to_string(s.pongs_received) + " PONGs received, smoothed RTT " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::microseconds>(s.smoothed_rtt).count()) +
            " us");
        say("healthy client: closing");
        healthy.close();
    });

    io.run_for(std::chrono::seconds(5)); // returns once every session ended; 5 s is a backstop

    const bool silent_dropped =
        server_ended.count("silent") && server_ended["silent"] == heartbeat::error::timeout;
    const bool healthy_dropped =
        !server_ended.count("healthy") ||
        server_ended["healthy"].category() == heartbeat::error_category() ||
        healthy_ended != asio::error::operation_aborted;
    const bool ok = silent_dropped && !healthy_dropped && echoes == 2;
    std::cout << (ok ? "OK" : "FAILED") << ": the silent client was "
              << (silent_dropped ? "" : "NOT ") << "dropped for silence, the healthy client was "
              << (healthy_dropped ? "" : "not ") << "dropped, " << echoes << " of 2 echoes\n";
    return ok ? 0 : 1;
}
