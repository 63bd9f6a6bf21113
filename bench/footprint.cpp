// footprint: the heap blocks an idle heartbeat_session holds, step by step (accept, construct,
// async_run, async_receive, heartbeats), so the RSS per session that run.sh measures can be
// taken apart. It runs 64 sessions over loopback connections whose peers are plain blocking
// sockets (they allocate nothing here), records every malloc of each step and prints the blocks
// still held, per session, by glibc chunk size. Uses the library's public API only.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <malloc.h>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {

struct record {
    std::size_t requested;
    std::size_t usable;
    bool freed;
    void* p;
};
bool recording = false;
record records[65536];
std::size_t n_records = 0;

void* note(void* p, std::size_t n) {
    if (p && recording && n_records < 65536)
        records[n_records++] = record{n, malloc_usable_size(p), false, p};
    return p;
}
void unnote(void* p) {
    if (!p || !recording)
        return;
    for (std::size_t i = 0; i < n_records; ++i)
        if (records[i].p == p && !records[i].freed) {
            records[i].freed = true;
            return;
        }
}

std::size_t total_live = 0;
constexpr std::size_t sessions = 64;

// Prints the blocks still held from this step, averaged over the sessions, by chunk size.
void step(const char* what) {
    std::map<std::size_t, std::size_t> held; // chunk size -> blocks
    std::size_t bytes = 0, blocks = 0, transient = 0;
    for (std::size_t i = 0; i < n_records; ++i) {
        const auto& r = records[i];
        const std::size_t chunk = r.usable + 8;
        if (r.freed) {
            ++transient;
            continue;
        }
        ++held[chunk];
        bytes += chunk;
        ++blocks;
    }
    const double n = static_cast<double>(sessions);
    std::printf("%s\n", what);
    for (const auto& [chunk, count] : held)
        std::printf("    %5.2f x %4zu B chunk\n", static_cast<double>(count) / n, chunk);
    if (transient)
        std::printf("    (%.2f blocks per session allocated and freed again)\n",
                    static_cast<double>(transient) / n);
    total_live += bytes;
    std::printf("  held per session: %.2f blocks, %.0f B (running total %.0f B)\n\n",
                static_cast<double>(blocks) / n, static_cast<double>(bytes) / n,
                static_cast<double>(total_live) / n);
    n_records = 0;
}

} // namespace

extern "C" {
void* malloc(std::size_t n) {
    return note(__libc_malloc(n), n);
}
void free(void* p) {
    unnote(p);
    __libc_free(p);
}
void* calloc(std::size_t n, std::size_t s) {
    return note(__libc_calloc(n, s), n * s);
}
void* realloc(void* p, std::size_t n) {
    unnote(p);
    return note(__libc_realloc(p, n), n);
}
void* memalign(std::size_t a, std::size_t n) {
    return note(__libc_memalign(a, n), n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
    return note(__libc_memalign(a, n), n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    void* p = note(__libc_memalign(a, n), n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
}

namespace {

using asio::ip::tcp;
using session_type = heartbeat::heartbeat_session<tcp::socket>;
bool verbose = false;

void report(const char* what) {
    if (verbose)
        step(what);
    n_records = 0;
}

// `sessions` sessions through their idle life, each step applied to all of them, so that the
// blocks that Asio's and the library's per-thread caches hand back from one session to the
// next average out. The first round warms what a process pays once (the reactor, the timer
// service and its queue, thread-local caches); the second is shown.
int idle_sessions(asio::io_context& io, tcp::acceptor& acceptor) {
    std::vector<int> peers;
    std::vector<tcp::socket> sockets;
    for (std::size_t i = 0; i < sessions; ++i) {
        const int peer = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(acceptor.local_endpoint().port());
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(peer, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            std::perror("connect");
            return 1;
        }
        peers.push_back(peer);
    }

    heartbeat::options opts; // as lib_server in the idle scenario
    opts.ping_interval = std::chrono::milliseconds(2000);
    opts.read_timeout = std::chrono::milliseconds(3000);

    recording = true;
    for (std::size_t i = 0; i < sessions; ++i)
        sockets.push_back(acceptor.accept());
    recording = false;
    report("1. accept: the socket is registered with the epoll reactor");

    std::vector<std::shared_ptr<session_type>> list;
    list.reserve(sessions);
    recording = true;
    for (auto& socket : sockets)
        list.push_back(std::make_shared<session_type>(std::move(socket), opts));
    recording = false;
    report("2. heartbeat_session constructed (in a shared_ptr, as a server keeps it)");

    recording = true;
    for (auto& session : list)
        session->async_run([s = session](std::error_code) {});
    recording = false;
    report("3. async_run(handler holding a shared_ptr)");

    // The echo loop of lib_server.
    std::function<void(std::shared_ptr<session_type>)> receive =
        [&receive](std::shared_ptr<session_type> session) {
            session->async_receive([&receive, session](std::error_code ec, std::string frame) {
                if (ec)
                    return;
                session->async_send(std::move(frame), [](std::error_code) {});
                receive(session);
            });
        };
    recording = true;
    for (auto& session : list)
        receive(session);
    recording = false;
    report("4. async_receive(handler holding a shared_ptr)");

    recording = true;
    io.poll(); // the runs start reading and arm their timers
    io.restart();
    recording = false;
    report("5. first turn of the event loop: reads started, timers armed");

    recording = true;
    for (int round = 0; round < 3; ++round) { // three heartbeats each: PING in, PONG out
        // Apart, as heartbeats are: a read less than a tick (at most 16 ms) after the previous
        // one counts as traffic, and a busy session reads into a buffer of its own.
        ::usleep(50 * 1000);
        for (int peer : peers)
            if (::send(peer, "PING\n", 5, 0) != 5)
                return 1;
        std::size_t answered = 0;
        std::vector<bool> done(sessions, false);
        for (int k = 0; k < 5000 && answered < sessions; ++k) {
            io.poll();
            io.restart();
            for (std::size_t i = 0; i < sessions; ++i) {
                char buf[16];
                if (!done[i] && ::recv(peers[i], buf, sizeof buf, MSG_DONTWAIT) > 0) {
                    done[i] = true;
                    ++answered;
                }
            }
            if (answered < sessions)
                ::usleep(100);
        }
    }
    recording = false;
    report("6. three heartbeats each (PING read, PONG written): the idle steady state");

    for (int peer : peers)
        ::close(peer);
    for (auto& session : list)
        session->close();
    list.clear();
    io.run_for(std::chrono::milliseconds(100));
    io.restart();
    return 0;
}

} // namespace

int main() {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    if (idle_sessions(io, acceptor) != 0) // warm-up
        return 1;
    verbose = true;
    total_live = 0;
    std::printf("Heap blocks of an idle heartbeat_session<tcp::socket> (line_framing), step by\n"
                "step; per session, averaged over %zu sessions; glibc chunk sizes:\n\n",
                sessions);
    if (idle_sessions(io, acceptor) != 0)
        return 1;
    std::printf("Heap held per idle session: %.0f B, plus Asio's epoll descriptor_state (%zu B,\n"
                "a %zu B chunk) that the reactor's object pool recycled from the warm-up round,\n"
                "plus the kernel's socket buffers (not in the process RSS). Blocks freed by a\n"
                "session but kept in a per-thread cache count as held. Allocations per echoed\n"
                "frame: malloc_count.so on the real servers (bench/analyze.sh, section 3).\n",
                static_cast<double>(total_live) / static_cast<double>(sessions),
                sizeof(asio::detail::epoll_reactor::descriptor_state),
                (sizeof(asio::detail::epoll_reactor::descriptor_state) + 8 + 15) / 16 * 16);
    return 0;
}
