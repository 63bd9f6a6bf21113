// malloc_count: an LD_PRELOAD shim that counts heap allocations and live heap bytes of a
// dynamically linked program (an analysis aid for the benchmarks, not part of the library).
//
//   LD_PRELOAD=./malloc_count.so ./lib_server --port 0 ...
//   kill -USR1 <pid>     # prints "malloc_count: mallocs=... frees=... live_bytes=..." on stderr
//
// It prints the same line at exit. Differences between two SIGUSR1 reports give the
// allocations of the work done in between, and the live bytes held by, say, idle sessions.
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <malloc.h>
#include <unistd.h>

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {

std::atomic<unsigned long long> mallocs{0};
std::atomic<unsigned long long> frees{0};
std::atomic<long long> live{0};

void* counted(void* p) {
    if (p) {
        mallocs.fetch_add(1, std::memory_order_relaxed);
        live.fetch_add(static_cast<long long>(malloc_usable_size(p)), std::memory_order_relaxed);
    }
    return p;
}

void uncount(void* p) {
    if (p) {
        frees.fetch_add(1, std::memory_order_relaxed);
        live.fetch_sub(static_cast<long long>(malloc_usable_size(p)), std::memory_order_relaxed);
    }
}

void report() {
    char line[160];
    const int n =
        std::snprintf(line, sizeof line, "malloc_count: mallocs=%llu frees=%llu live_bytes=%lld\n",
                      mallocs.load(), frees.load(), live.load());
    if (n > 0) {
        ssize_t ignored = ::write(2, line, static_cast<std::size_t>(n));
        (void)ignored;
    }
}

void on_signal(int) {
    const int saved = errno;
    report();
    errno = saved;
}

struct reporter {
    reporter() { std::signal(SIGUSR1, on_signal); }
    ~reporter() { report(); }
} the_reporter;

} // namespace

extern "C" {

void* malloc(std::size_t n) {
    return counted(__libc_malloc(n));
}

void free(void* p) {
    uncount(p);
    __libc_free(p);
}

void* calloc(std::size_t n, std::size_t size) {
    return counted(__libc_calloc(n, size));
}

void* realloc(void* p, std::size_t n) {
    uncount(p);
    return counted(__libc_realloc(p, n));
}

void* memalign(std::size_t align, std::size_t n) {
    return counted(__libc_memalign(align, n));
}

void* aligned_alloc(std::size_t align, std::size_t n) {
    return counted(__libc_memalign(align, n));
}

int posix_memalign(void** out, std::size_t align, std::size_t n) {
    void* p = counted(__libc_memalign(align, n));
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

} // extern "C"
