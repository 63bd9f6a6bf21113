// detail::context_cache: the io_context's recycled memory (small blocks, try_send's buffers, the
// read buffers of idle sessions). Threads come and go while the context lives; several threads
// run one context; a context destroyed and another made never share a cache. Run under ASan
// (a cache that outlived its context would be used after free, and one never freed would leak)
// and TSan (two threads in one cache at once).
#include "support.hpp"

#include <heartbeat/detail/context_cache.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace hbt;
using heartbeat::detail::context_cache;
using heartbeat::detail::read_scratch;

namespace {

/// Echoes every frame with try_send, on the session's strand, until the session ends.
struct echo_loop {
    std::weak_ptr<line_session> s;
    std::shared_ptr<std::atomic<int>> frames;
    void operator()(error_code ec, std::string f) const {
        auto session = s.lock();
        if (ec || !session)
            return;
        ++*frames;
        (void)session->try_send(f);
        session->async_receive(*this);
    }
};

/// Two sessions over loopback, each on a strand of its own, echoing frames back and forth.
struct echo_pair {
    std::shared_ptr<line_session> a;
    std::shared_ptr<line_session> b;
    std::shared_ptr<std::atomic<int>> frames = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> ended = std::make_shared<std::atomic<int>>(0);

    echo_pair(asio::io_context& ioc, tcp::acceptor& acceptor) {
        tcp::socket sa(asio::make_strand(ioc));
        tcp::socket sb(asio::make_strand(ioc));
        sa.connect(acceptor.local_endpoint());
        acceptor.accept(sb);
        sa.set_option(tcp::no_delay(true));
        sb.set_option(tcp::no_delay(true));
        heartbeat::options o = test_options();
        o.ping_interval = 10ms;
        o.read_timeout = 2000ms;
        a = std::make_shared<line_session>(std::move(sa), o);
        b = std::make_shared<line_session>(std::move(sb), o);
    }

    /// Starts both on their strands, with `frames` frames sent by a.
    void start(int count) {
        for (auto* s : {&a, &b}) {
            auto session = *s;
            asio::post(session->get_executor(),
                       [session, count, f = frames, e = ended, first = s == &a] {
                           session->async_run([e](error_code) { ++*e; });
                           session->async_receive(echo_loop{session, f});
                           if (first)
                               for (int i = 0; i < count; ++i)
                                   (void)session->try_send("frame " + std::to_string(i));
                       });
        }
    }

    void close() {
        a->close();
        b->close();
    }
};

} // namespace

TEST_CASE("a thread that ran sessions exits, and sessions on other threads still work",
          "[context_cache][threads]") {
    asio::io_context ioc;
    drain_on_exit drain{ioc};
    const tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
    tcp::acceptor acceptor(ioc, loopback);

    // One pair lives through every round: its blocks, allocated on a thread that then exits,
    // are freed on the next thread.
    echo_pair lasting(ioc, acceptor);
    lasting.start(4);

    auto run_until_frames = [&ioc](echo_pair& p, int at_least) {
        return run_until(ioc, [&] { return p.frames->load() >= at_least; });
    };

    for (int round = 0; round < 3; ++round) {
        echo_pair fresh(ioc, acceptor);
        fresh.start(4);
        bool ok = false;
        // The thread ends once these frames went around; its thread_locals go with it.
        std::thread worker([&] {
            ok = run_until_frames(fresh, 100) &&
                 run_until_frames(lasting, lasting.frames->load() + 100);
            fresh.close();
            run_until(ioc, [&] { return fresh.ended->load() == 2; });
        });
        worker.join();
        INFO("round " << round);
        REQUIRE(ok);
        REQUIRE(fresh.ended->load() == 2);
    }

    // And the thread that never ran it before.
    echo_pair last(ioc, acceptor);
    last.start(4);
    REQUIRE(run_until_frames(last, 100));
    REQUIRE(run_until_frames(lasting, lasting.frames->load() + 100));
    last.close();
    lasting.close();
    REQUIRE(run_until(ioc, [&] { return last.ended->load() == 2 && lasting.ended->load() == 2; }));
}

TEST_CASE("sessions on strands share one io_context run by two threads, with try_send",
          "[context_cache][threads]") {
    asio::io_context ioc(2);
    drain_on_exit drain{ioc};
    const tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
    tcp::acceptor acceptor(ioc, loopback);
    std::vector<std::unique_ptr<echo_pair>> pairs;
    for (int i = 0; i < 6; ++i) {
        pairs.push_back(std::make_unique<echo_pair>(ioc, acceptor));
        pairs.back()->start(8);
    }
    auto enough = [&] {
        for (auto& p : pairs)
            if (p->frames->load() < 400)
                return false;
        return true;
    };
    auto all_ended = [&] {
        for (auto& p : pairs)
            if (p->ended->load() < 2)
                return false;
        return true;
    };
    std::atomic<bool> done{false};
    auto work = [&] {
        while (!done.load() && !ioc.stopped())
            ioc.run_one_for(std::chrono::milliseconds(10));
    };
    std::thread t1(work);
    std::thread t2(work);
    const auto deadline = clock::now() + hard_cap();
    while (!enough() && clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    const bool got_enough = enough();
    for (auto& p : pairs)
        p->close(); // close() is the one call allowed from any thread
    while (!all_ended() && clock::now() < deadline + hard_cap())
        std::this_thread::sleep_for(1ms);
    done = true;
    t1.join();
    t2.join();
    REQUIRE(got_enough);
    REQUIRE(all_ended());
}

TEST_CASE("a new io_context never uses the cache of a destroyed one", "[context_cache]") {
    // Under ASan a thread_local still pointing into a destroyed context's cache is a
    // heap-use-after-free here; every round may reuse the address of the previous context.
    for (int round = 0; round < 4; ++round) {
        asio::io_context ioc;
        context_cache& cache = context_cache::of(ioc.get_executor());
        CHECK(cache.take_payload().capacity() < 1000); // nothing from the previous round
        void* p = cache.allocate(100);
        cache.deallocate(p, 100);
        void* q = cache.allocate(110); // the same size class (97 to 112): the block comes back
        CHECK(q == p);
        cache.deallocate(q, 110);
        void* r = cache.allocate(120); // the next class: another block
        CHECK(r != p);
        cache.deallocate(r, 120);
        std::string buffer;
        buffer.reserve(1000);
        buffer = "written";
        const char* storage = buffer.data();
        cache.give_payload(std::move(buffer));
        std::string again = cache.take_payload();
        CHECK(again.empty());
        CHECK(again.data() == storage);
        again.reserve(1000);
        cache.give_payload(std::move(again)); // left to the context's destruction
    }
}

TEST_CASE("a session's share keeps the cache alive after its context, until the share goes",
          "[context_cache]") {
    // Asio 1.22's io_uring service destroys pending operations in its destructor, after the
    // services made later than it (ours among them): a session freed there gives its blocks
    // back to a cache whose context is gone. Under ASan, freeing into a freed cache is a
    // heap-use-after-free, and a cache never freed a leak.
    void* block = nullptr;
    std::unique_ptr<heartbeat::detail::shared_cache> share;
    {
        asio::io_context ioc;
        share = std::make_unique<heartbeat::detail::shared_cache>(
            context_cache::of(ioc.get_executor()));
        block = (*share)->allocate(64);
    }
    (*share)->deallocate(block, 64);
    void* again = (*share)->allocate(60); // the same size class: the block comes back
    CHECK(again == block);
    (*share)->deallocate(again, 60);
    std::string buffer;
    buffer.reserve(100);
    (*share)->give_payload(std::move(buffer));
    share.reset(); // the last share: the cache and what it holds are freed
}

TEST_CASE("a buffer with no memory of its own is not kept", "[context_cache]") {
    // A short string's inline storage is nothing to reuse; kept, it would take the place of a
    // buffer that is (the spare buffers are few).
    asio::io_context ioc;
    context_cache& cache = context_cache::of(ioc.get_executor());
    std::string big;
    big.reserve(1000);
    const char* storage = big.data();
    cache.give_payload(std::move(big));
    for (std::size_t i = 0; i < context_cache::payload_depth; ++i)
        cache.give_payload(std::string("short"));
    std::string again = cache.take_payload();
    CHECK(again.data() == storage); // the one worth keeping is still there, on top
    CHECK(cache.take_payload().capacity() == std::string().capacity()); // and no other
}

TEST_CASE("buffers given back on a thread that then exits are kept until the context goes",
          "[context_cache][threads]") {
    asio::io_context ioc;
    context_cache& cache = context_cache::of(ioc.get_executor());
    // A thread's slot keeps up to payload_depth buffers, not too large ones, and gives the last
    // kept first. What it keeps outlives the thread; the context's destruction frees it (LSan
    // reports a leak otherwise).
    std::thread other([&] {
        std::vector<const char*> kept;
        for (std::size_t i = 0; i < context_cache::payload_depth + 2; ++i) {
            std::string buffer;
            buffer.reserve(i == 0 ? context_cache::payload_max_capacity + 1 : 100 + i);
            if (i > 0 && kept.size() < context_cache::payload_depth)
                kept.push_back(buffer.data());
            cache.give_payload(std::move(buffer));
        }
        std::vector<std::string> taken;
        for (std::size_t i = context_cache::payload_depth; i-- > 0;) {
            taken.push_back(cache.take_payload());
            CHECK(taken.back().data() == kept[i]);
        }
        CHECK(cache.take_payload().capacity() < 100); // the one too large was not kept
        for (std::size_t i = 0; i < taken.size(); i += 2)
            cache.give_payload(std::move(taken[i])); // left to the context's destruction
    });
    other.join();
    // A thread that never gave any back has none.
    CHECK(cache.take_payload().capacity() < 100);
}

TEST_CASE("blocks freed on a thread that never allocated are kept until the context goes",
          "[context_cache][threads]") {
    asio::io_context ioc;
    context_cache& cache = context_cache::of(ioc.get_executor());
    std::vector<void*> blocks;
    for (int i = 0; i < 20; ++i)
        blocks.push_back(cache.allocate(static_cast<std::size_t>(16 + 24 * i)));
    // Freed by a thread that then exits: its slot keeps some, the rest go to operator delete,
    // and the context's destruction frees what the slot kept (LSan reports a leak otherwise).
    std::thread other([&] {
        for (std::size_t i = 0; i < blocks.size(); ++i)
            cache.deallocate(blocks[i], 16 + 24 * i);
    });
    other.join();
    void* p = cache.allocate(64); // this thread's own slot
    cache.deallocate(p, 64);
}

TEST_CASE("read buffers: one per reader at a time, reused once given back", "[context_cache]") {
    asio::io_context ioc;
    context_cache& cache = context_cache::of(ioc.get_executor());
    read_scratch* a = cache.acquire_scratch();
    REQUIRE(a != nullptr);
    read_scratch* b = cache.acquire_scratch(); // a reader re-entered on this thread
    REQUIRE(b != nullptr);
    CHECK(b != a);
    CHECK(b->data() != a->data());
    a->release();
    read_scratch* c = cache.acquire_scratch();
    CHECK(c == a); // no third buffer while one is free
    b->release();
    c->release();
}
