// Small helpers shared by the benchmark programs: flag parsing, /proc sampling of a server
// process, and percentiles. Not part of the library.
#ifndef HEARTBEAT_BENCH_COMMON_HPP
#define HEARTBEAT_BENCH_COMMON_HPP

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace bench {

/// `--key value` and `--key=value` flags; `--flag` alone means "1".
class flags {
public:
    flags(int argc, char** argv, std::string usage)
        : usage_(std::move(usage)) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "-h" || a == "--help") {
                std::fprintf(stderr, "%s\n", usage_.c_str());
                std::exit(0);
            }
            if (a.rfind("--", 0) != 0)
                fail("unexpected argument " + a);
            a = a.substr(2);
            const auto eq = a.find('=');
            if (eq != std::string::npos)
                values_[a.substr(0, eq)] = a.substr(eq + 1);
            else if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0)
                values_[a] = argv[++i];
            else
                values_[a] = "1";
        }
    }

    std::string str(const std::string& key, std::string def = {}) {
        used_.push_back(key);
        const auto it = values_.find(key);
        return it == values_.end() ? def : it->second;
    }
    double num(const std::string& key, double def) {
        const std::string v = str(key);
        if (v.empty())
            return def;
        char* end = nullptr;
        const double d = std::strtod(v.c_str(), &end);
        if (!end || *end)
            fail("--" + key + " wants a number, got " + v);
        return d;
    }
    /// Fails on any flag that no str()/num() asked for: a typo must not pass silently.
    void done() {
        for (const auto& kv : values_)
            if (std::find(used_.begin(), used_.end(), kv.first) == used_.end())
                fail("unknown flag --" + kv.first);
    }

private:
    [[noreturn]] void fail(const std::string& why) {
        std::fprintf(stderr, "%s\n%s\n", why.c_str(), usage_.c_str());
        std::exit(2);
    }

    std::string usage_;
    std::map<std::string, std::string> values_;
    std::vector<std::string> used_;
};

/// Resident set size of a process in KiB (VmRSS), or -1.
inline long rss_kib(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

/// utime + stime of a process in seconds, from /proc/PID/stat (clock-tick resolution).
inline double cpu_stat_seconds(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = all.rfind(')');
    if (paren == std::string::npos)
        return -1;
    std::istringstream rest(all.substr(paren + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    // Fields after the command: state(3) ... utime(14) stime(15).
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14)
            utime = std::stoul(field);
        if (i == 15)
            stime = std::stoul(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// CPU time of all threads of a process in seconds, with nanosecond resolution, from
/// /proc/PID/task/*/schedstat; falls back to /proc/PID/stat when schedstat is missing.
inline double cpu_seconds(long pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d)
        return cpu_stat_seconds(pid);
    unsigned long long ns = 0;
    bool any = false;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        std::ifstream in(dir + "/" + e->d_name + "/schedstat");
        unsigned long long v = 0;
        if (in >> v) {
            ns += v;
            any = true;
        }
    }
    closedir(d);
    return any ? static_cast<double>(ns) / 1e9 : cpu_stat_seconds(pid);
}

/// The p-th percentile (0..100) of `v` by nearest rank; sorts `v`. 0 when empty.
template <class T>
double percentile(std::vector<T>& v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    std::size_t rank =
        static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
    rank = std::clamp<std::size_t>(rank, 1, v.size());
    return static_cast<double>(v[rank - 1]);
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace bench

#endif
