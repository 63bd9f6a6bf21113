// footprint: what one idle heartbeat_session holds on the heap, allocation by allocation, and
// what echoing a frame allocates, so the RSS per session and the per-frame cost that run.sh
// measures can be taken apart. It runs one session over a loopback connection (the peer is a
// plain blocking socket, so it allocates nothing here), records every malloc between steps and
// prints them: size requested and glibc chunk size. Uses the public API only.
#include <heartbeat/heartbeat.hpp>

#include <asio.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
record records[4096];
std::size_t n_records = 0;

void* note(void* p, std::size_t n) {
    if (p && recording && n_records < 4096)
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

void step(const char* what) {
    std::size_t live = 0, count = 0;
    std::printf("%s\n", what);
    for (std::size_t i = 0; i < n_records; ++i) {
        const auto& r = records[i];
        std::printf("    malloc %5zu B (chunk %5zu)%s\n", r.requested, r.usable + 8,
                    r.freed ? "  freed again" : "");
        if (!r.freed) {
            live += r.usable + 8;
            ++count;
        }
    }
    total_live += live;
    std::printf("  held after this step: %zu blocks, %zu B (running total %zu B)\n\n", count, live,
                total_live);
    n_records = 0;
}

} // namespace

extern "C" {
void* malloc(std::size_t n) { return note(__libc_malloc(n), n); }
void free(void* p) {
    unnote(p);
    __libc_free(p);
}
void* calloc(std::size_t n, std::size_t s) { return note(__libc_calloc(n, s), n * s); }
void* realloc(void* p, std::size_t n) {
    unnote(p);
    return note(__libc_realloc(p, n), n);
}
void* memalign(std::size_t a, std::size_t n) { return note(__libc_memalign(a, n), n); }
void* aligned_alloc(std::size_t a, std::size_t n) { return note(__libc_memalign(a, n), n); }
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    void* p = note(__libc_memalign(a, n), n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
}

int main() {
    using asio::ip::tcp;
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    // Warm up what every process pays once (the reactor, the timer service, thread-local
    // caches), so that only per-session allocations remain.
    {
        heartbeat::options o;
        o.validate();
        asio::steady_timer t(io, std::chrono::hours(1));
        t.async_wait([](std::error_code) {});
        asio::post(io, [] {});
        io.poll();
        t.cancel();
        io.poll();
        io.restart();
    }

    const int peer = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(acceptor.local_endpoint().port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(peer, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("connect");
        return 1;
    }

    heartbeat::options opts; // as lib_server in the idle scenario
    opts.ping_interval = std::chrono::milliseconds(2000);
    opts.read_timeout = std::chrono::milliseconds(3000);

    std::printf("One idle heartbeat_session<tcp::socket> (line_framing), step by step:\n\n");
    recording = true;
    tcp::socket socket = acceptor.accept();
    recording = false;
    step("1. accept: the socket is registered with the epoll reactor");

    recording = true;
    auto session = std::make_shared<heartbeat::heartbeat_session<tcp::socket>>(std::move(socket), opts);
    recording = false;
    step("2. heartbeat_session constructed (in a shared_ptr, as a server keeps it)");

    recording = true;
    session->async_run([s = session](std::error_code) {});
    recording = false;
    step("3. async_run(handler holding a shared_ptr)");

    recording = true;
    std::function<void()> receive; // the echo loop of lib_server
    receive = [&] {
        session->async_receive([&, s = session](std::error_code ec, std::string frame) {
            if (ec)
                return;
            session->async_send(std::move(frame), [](std::error_code) {});
            receive();
        });
    };
    receive();
    recording = false;
    step("4. async_receive(handler holding a shared_ptr)");

    recording = true;
    io.poll(); // the run starts reading and arms the timer
    recording = false;
    step("5. first turn of the event loop: read started, timer armed");

    recording = true;
    for (int i = 0; i < 3; ++i) { // three heartbeats: PING in, PONG out
        if (::send(peer, "PING\n", 5, 0) != 5)
            return 1;
        char buf[16];
        for (int k = 0; k < 1000; ++k) {
            io.poll();
            io.restart();
            const ssize_t n = ::recv(peer, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0)
                break;
            ::usleep(100);
        }
    }
    recording = false;
    step("6. three heartbeats (PING read, PONG written): steady state");

    const std::size_t idle_total = total_live;

    auto echo = [&](int frames) {
        for (int i = 0; i < frames; ++i) {
            if (::send(peer, "0123456789abcde\n", 16, 0) != 16)
                std::exit(1);
            char buf[64];
            for (int k = 0; k < 1000; ++k) {
                io.poll();
                io.restart();
                if (::recv(peer, buf, sizeof buf, MSG_DONTWAIT) > 0)
                    break;
                ::usleep(100);
            }
        }
    };
    echo(3); // warm the per-thread recycling caches on this path
    recording = true;
    echo(10);
    recording = false;
    std::size_t allocations = n_records;
    step("7. ten data frames echoed (receive, send, written): the hot path");

    std::printf("Heap held by one idle session after 3 heartbeats: %zu B (plus the kernel's\n"
                "socket buffers, which are not in the process RSS).\n"
                "Heap allocations per echoed frame: %.1f\n",
                idle_total, static_cast<double>(allocations) / 10.0);
    ::close(peer);
    session->close();
    io.run_for(std::chrono::milliseconds(100));
    return 0;
}
