// Fixtures for the fault, lifetime, concurrency and soak programs of tests/faults: clock and
// memory probes, child processes (the peer helper), network namespaces joined to this one by a
// veth pair, timing summaries and a tiny check macro for the programs that do not use Catch2.
//
// Network rule: the only addresses used are loopback and 198.18.0.0/30 inside a namespace that
// this process creates (hbt-<pid>) and removes again; leftovers of a crashed run are removed at
// the next start.
#ifndef HEARTBEAT_TESTS_FAULTS_FAULT_SUPPORT_HPP
#define HEARTBEAT_TESTS_FAULTS_FAULT_SUPPORT_HPP

#include <asio/io_context.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace hbf {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

/// Milliseconds as a double, for printing and tolerance checks.
template <class Rep, class Period>
double ms(std::chrono::duration<Rep, Period> d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

/// Resident memory of a process in KiB (this one by default), from /proc/<pid>/statm.
inline long rss_kib(pid_t pid = 0) {
    const std::string path =
        pid == 0 ? std::string("/proc/self/statm") : "/proc/" + std::to_string(pid) + "/statm";
    std::ifstream in(path);
    long size = 0;
    long resident = 0;
    if (!(in >> size >> resident))
        return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/// Runs `ioc` until `done()` holds; false when `cap` passed first.
template <class Pred>
bool run_until(asio::io_context& ioc, Pred done, clock::duration cap) {
    const auto deadline = clock::now() + cap;
    while (!done()) {
        if (clock::now() >= deadline)
            return false;
        if (ioc.stopped())
            ioc.restart();
        if (ioc.run_one_until(deadline) == 0 && ioc.stopped())
            std::this_thread::sleep_for(1ms); // out of work: let time pass
    }
    return true;
}

/// Runs `ioc` for `d` of wall-clock time, whatever happens in it.
inline void run_for(asio::io_context& ioc, clock::duration d) {
    run_until(
        ioc, [] { return false; }, d);
}

/// Runs `ioc` until it has no work left; false when `cap` passed first.
inline bool drain(asio::io_context& ioc, clock::duration cap = 3s) {
    ioc.restart();
    ioc.run_for(cap);
    return ioc.stopped();
}

/// min / median / max of a few measurements, printed as one greppable line.
class timing {
public:
    explicit timing(std::string name, std::string unit = "ms")
        : name_(std::move(name))
        , unit_(std::move(unit)) {}
    void add(double v) { samples_.push_back(v); }
    std::size_t size() const { return samples_.size(); }
    double min() const { return sorted().front(); }
    double max() const { return sorted().back(); }
    double median() const {
        const auto s = sorted();
        return s.size() % 2 ? s[s.size() / 2] : (s[s.size() / 2 - 1] + s[s.size() / 2]) / 2;
    }
    /// "HBT_TIMING <name> | n=3 min=301.2 median=305.0 max=322.9 ms"
    void print() const {
        if (samples_.empty())
            return;
        std::printf("HBT_TIMING %s | n=%zu min=%.1f median=%.1f max=%.1f %s\n", name_.c_str(),
                    samples_.size(), min(), median(), max(), unit_.c_str());
        std::fflush(stdout);
    }

private:
    std::vector<double> sorted() const {
        auto s = samples_;
        std::sort(s.begin(), s.end());
        return s;
    }
    std::string name_;
    std::string unit_;
    std::vector<double> samples_;
};

/// How many times each timed scenario repeats (HBT_FAULT_RUNS, default 3).
inline int fault_runs() {
    const char* v = std::getenv("HBT_FAULT_RUNS");
    const int n = v ? std::atoi(v) : 3;
    return n > 0 ? n : 1;
}

// ---------------------------------------------------------------------------------------------
// Child processes.

/// A child process started with posix_spawnp. The destructor resumes it (it may be stopped),
/// kills it and reaps it, so no test leaves a process behind.
class child_process {
public:
    child_process() = default;
    explicit child_process(const std::vector<std::string>& args) {
        std::vector<char*> argv;
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        if (posix_spawnp(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
            pid_ = -1;
    }
    child_process(child_process&& other) noexcept
        : pid_(std::exchange(other.pid_, -1))
        , status_(other.status_) {}
    child_process& operator=(child_process&& other) noexcept {
        if (this != &other) {
            reset();
            pid_ = std::exchange(other.pid_, -1);
            status_ = other.status_;
        }
        return *this;
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() { reset(); }

    bool started() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    bool signal(int sig) const { return pid_ > 0 && ::kill(pid_, sig) == 0; }

    /// Waits up to `cap` for the child to exit; true when it did (status() then holds).
    bool wait(clock::duration cap) {
        if (pid_ <= 0)
            return true;
        const auto deadline = clock::now() + cap;
        for (;;) {
            const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
            if (r == pid_ || (r < 0 && errno != EINTR)) {
                pid_ = -1;
                return true;
            }
            if (clock::now() >= deadline)
                return false;
            std::this_thread::sleep_for(2ms);
        }
    }
    /// Non-blocking: has it exited?
    bool exited() { return wait(0ms); }
    int status() const { return status_; }
    bool exited_ok() const { return WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }

    void reset() {
        if (pid_ > 0) {
            ::kill(pid_, SIGCONT);
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status_, 0);
            pid_ = -1;
        }
    }

private:
    pid_t pid_ = -1;
    int status_ = 0;
};

/// Runs a command (argv, no shell), waits up to `cap`; true when it exited 0.
inline bool run_command(const std::vector<std::string>& args, clock::duration cap = 10s) {
    child_process c(args);
    if (!c.started())
        return false;
    if (!c.wait(cap))
        return false;
    return c.exited_ok();
}

/// Runs a shell command with its output discarded; true when it exited 0.
inline bool sh(const std::string& command) {
    const int r = std::system((command + " >/dev/null 2>&1").c_str());
    return r != -1 && WIFEXITED(r) && WEXITSTATUS(r) == 0;
}

/// A shell command's standard output ("" on failure).
inline std::string sh_output(const std::string& command) {
    std::string out;
    if (FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
            out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

/// The peer helper (peer.cpp): $HBT_FAULT_PEER, else the path CMake compiled in.
inline std::string peer_path() {
    if (const char* v = std::getenv("HBT_FAULT_PEER"))
        return v;
#ifdef HBT_FAULT_PEER_PATH
    return HBT_FAULT_PEER_PATH;
#else
    return "hbt_fault_peer";
#endif
}

// ---------------------------------------------------------------------------------------------
// Network namespaces.

inline bool pid_alive(long pid) {
    return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

/// A network namespace `hbt-<pid>` holding the peer's host, joined to this namespace by a veth
/// pair: `hbt<pid>a` here with 198.18.0.1/30, `hbt<pid>b` inside with 198.18.0.2/30.
/// Everything it made is removed by the destructor (deleting the namespace deletes the pair).
class netns {
public:
    static constexpr const char* host_address = "198.18.0.1";
    static constexpr const char* peer_address = "198.18.0.2";

    netns()
        : name_("hbt-" + std::to_string(::getpid()))
        , outer_("hbt" + std::to_string(::getpid()) + "a")
        , inner_("hbt" + std::to_string(::getpid()) + "b") {}
    netns(const netns&) = delete;
    netns& operator=(const netns&) = delete;
    ~netns() { destroy(); }

    /// Removes namespaces and veths named hbt-<pid> / hbt<pid>a whose process is gone: what a
    /// crashed or killed earlier run left behind. Processes still inside such a namespace are
    /// killed first.
    static void clean_leftovers() {
        std::istringstream ns(sh_output("ip netns list"));
        for (std::string line; std::getline(ns, line);) {
            long pid = 0;
            char rest = 0;
            if (std::sscanf(line.c_str(), "hbt-%ld%c", &pid, &rest) >= 1 && !pid_alive(pid)) {
                const std::string name = "hbt-" + std::to_string(pid);
                sh("ip netns pids " + name + " | xargs -r kill -9");
                sh("ip netns delete " + name);
            }
        }
        std::istringstream links(sh_output("ip -o link show"));
        for (std::string line; std::getline(links, line);) {
            long pid = 0;
            char side = 0;
            const auto colon = line.find(": ");
            if (colon == std::string::npos)
                continue;
            if (std::sscanf(line.c_str() + colon + 2, "hbt%ld%c", &pid, &side) == 2 &&
                (side == 'a' || side == 'b') && !pid_alive(pid))
                sh("ip link delete hbt" + std::to_string(pid) + side);
        }
    }

    /// Creates the namespace and the veth pair; false (with `why`) when this host cannot.
    bool create(std::string& why) {
        destroy();
        if (::geteuid() != 0) {
            why = "not root: network namespaces need CAP_NET_ADMIN";
            return false;
        }
        if (!sh("command -v ip")) {
            why = "the ip command (iproute2) is missing";
            return false;
        }
        clean_leftovers();
        if (!sh("ip netns add " + name_)) {
            why = "'ip netns add' failed: no CAP_NET_ADMIN or no namespace support";
            return false;
        }
        created_ = true;
        const std::string in = "ip netns exec " + name_ + " ";
        const bool ok = sh("ip link add " + outer_ + " type veth peer name " + inner_) &&
                        sh("ip link set " + inner_ + " netns " + name_) &&
                        sh("ip addr add " + std::string(host_address) + "/30 dev " + outer_) &&
                        sh("ip link set " + outer_ + " up") &&
                        sh(in + "ip addr add " + peer_address + "/30 dev " + inner_) &&
                        sh(in + "ip link set " + inner_ + " up") && sh(in + "ip link set lo up");
        if (!ok) {
            why = "could not set up the veth pair " + outer_ + " <-> " + inner_;
            destroy();
            return false;
        }
        // The new links need a moment before they carry traffic (DAD does not apply to IPv4,
        // but the carrier does); wait until the peer's address answers from inside.
        for (int i = 0; i < 100 && !sh(in + "ip -o link show " + inner_ + " | grep -q LOWER_UP");
             ++i)
            std::this_thread::sleep_for(10ms);
        return true;
    }

    void destroy() {
        if (!created_)
            return;
        sh("ip netns pids " + name_ + " | xargs -r kill -9");
        sh("ip netns delete " + name_);
        sh("ip link delete " + outer_); // normally gone with its peer already
        created_ = false;
    }

    const std::string& name() const { return name_; }
    const std::string& inner_link() const { return inner_; }

    /// argv prefix that runs a command inside the namespace.
    std::vector<std::string> exec_prefix() const { return {"ip", "netns", "exec", name_}; }

    /// The command that makes the peer's host vanish: every packet in or out is dropped, with
    /// no RST or ICMP, as when a host loses power. Uses iptables when present.
    std::vector<std::string> drop_command() const {
        return {"sh", "-c",
                "ip netns exec " + name_ + " iptables -w -A INPUT -j DROP && ip netns exec " +
                    name_ + " iptables -w -A OUTPUT -j DROP"};
    }
    /// The alternative: the peer's link goes down.
    std::vector<std::string> link_down_command() const {
        return {"ip", "netns", "exec", name_, "ip", "link", "set", "dev", inner_, "down"};
    }
    static bool have_iptables() { return sh("command -v iptables"); }

private:
    std::string name_;
    std::string outer_;
    std::string inner_;
    bool created_ = false;
};

// ---------------------------------------------------------------------------------------------
// Checks for the programs that do not use Catch2.

inline int& check_failures() {
    static int n = 0;
    return n;
}

#define HBF_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ++::hbf::check_failures();                                                             \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                                          \
    } while (0)

#define HBF_CHECK_MSG(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ++::hbf::check_failures();                                                             \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);          \
            std::fprintf(stderr, __VA_ARGS__);                                                     \
            std::fprintf(stderr, "\n");                                                            \
        }                                                                                          \
    } while (0)

} // namespace hbf

#endif
