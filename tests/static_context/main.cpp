// static_context: sessions on a static io_context, still running when main() returns, so the
// context and everything pending in it are destroyed during static destruction, after the main
// thread's thread_local objects. Exits 0 only when that destruction frees every byte the
// program allocated with operator new since it started: the library's caches must be freed with
// the io_context, not into caches the exit has already destroyed (the bug this guards against:
// thread_local caches with destructors kept the blocks the context freed into them after their
// destructor ran). Run under AddressSanitizer it also proves that nothing touches memory freed
// at exit.
#include <heartbeat/heartbeat.hpp>

#include "net.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <thread>

// ---------------------------------------------------------------------------------------------
// Every operator new and delete of the program, counted. All the forms without an alignment are
// replaced (a sanitizer's runtime would otherwise supply some of them); the aligned ones are
// left alone and not counted.

namespace {
std::atomic<long> live_blocks{0};

void* counted_new(std::size_t size) noexcept {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p)
        live_blocks.fetch_add(1, std::memory_order_relaxed);
    return p;
}
void counted_delete(void* p) noexcept {
    if (!p)
        return;
    live_blocks.fetch_sub(1, std::memory_order_relaxed);
    std::free(p);
}
} // namespace

void* operator new(std::size_t size) {
    if (void* p = counted_new(size))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    return operator new(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return counted_new(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return counted_new(size);
}
void operator delete(void* p) noexcept {
    counted_delete(p);
}
void operator delete[](void* p) noexcept {
    counted_delete(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_delete(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    counted_delete(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    counted_delete(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    counted_delete(p);
}

namespace {

/// Constructed before the io_context below, so destroyed after it: by then every block
/// allocated since must be free again.
struct leak_check {
    long at_start = live_blocks.load();
    ~leak_check() {
        const long left = live_blocks.load() - at_start;
        if (left != 0) {
            std::fprintf(stderr,
                         "static_context: FAILED: %ld block(s) allocated while the program ran "
                         "were never freed after the static io_context was destroyed\n",
                         left);
            std::fflush(stderr);
            std::_Exit(1);
        }
        std::printf("static_context: ok: the static io_context freed everything at exit\n");
        std::fflush(stdout);
    }
} check;

asio::io_context context;

using tcp = asio::ip::tcp;
using session = heartbeat::heartbeat_session<tcp::socket>;

/// Echoes every frame back with try_send, owned by its own handlers (like a server's
/// connection), so it is still running at exit.
struct echo : std::enable_shared_from_this<echo> {
    explicit echo(tcp::socket s)
        : s(std::move(s), options()) {}
    static heartbeat::options options() {
        heartbeat::options o;
        o.ping_interval = std::chrono::milliseconds(20);
        o.read_timeout = std::chrono::seconds(10);
        return o;
    }
    void start() {
        s.async_run([self = shared_from_this()](heartbeat::error_code) {});
        receive();
    }
    void receive() {
        s.async_receive([self = shared_from_this()](heartbeat::error_code ec, std::string frame) {
            if (ec)
                return;
            ++self->frames;
            (void)self->s.try_send(frame);
            self->receive();
        });
    }
    session s;
    int frames = 0;
};

} // namespace

int main() {
    // Pairs of sessions: each sends to an echo, the echo sends it back, forever.
    const tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
    tcp::acceptor acceptor(context, loopback);
    constexpr int pairs = 4;
    std::shared_ptr<echo> ends[2 * pairs];
    for (int i = 0; i < pairs; ++i) {
        // Each on a strand of its own: two threads run the context below.
        tcp::socket client(asio::make_strand(context));
        client.connect(acceptor.local_endpoint());
        tcp::socket server(asio::make_strand(context));
        acceptor.accept(server);
        ends[2 * i] = std::make_shared<echo>(std::move(client));
        ends[2 * i + 1] = std::make_shared<echo>(std::move(server));
    }
    for (auto& e : ends)
        e->start();
    for (int i = 0; i < pairs; ++i)
        for (int k = 0; k < 3; ++k)
            (void)ends[2 * i]->s.try_send("frame " + std::to_string(k));

    // A second thread runs the context too for a while, then exits.
    std::thread helper([] { context.run_for(std::chrono::milliseconds(150)); });
    context.run_for(std::chrono::milliseconds(300));
    helper.join();

    int frames = 0;
    for (auto& e : ends)
        frames += e->frames;
    for (auto& e : ends)
        e.reset(); // only their handlers own the sessions now
    if (frames < 2 * 3 * pairs) {
        std::fprintf(stderr, "static_context: FAILED: only %d frames went around\n", frames);
        return 1;
    }
    std::printf("static_context: %d frames went around; exiting with the sessions running\n",
                frames);
    return 0; // the sessions' operations are pending: destroying `context` destroys them
}
