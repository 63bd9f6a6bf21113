// Both flavours of heartbeat in one program: standalone Asio (standalone.cpp) and Boost.Asio
// (boost.cpp). Their types differ (std::error_code and boost::system::error_code), so each lives
// in an inline namespace of its own; were they to share names, the linker would keep one
// definition of, e.g., heartbeat::error_category() for both, and one flavour would work with
// the other's types. Exits non-zero, saying why, when anything is off.
#include "flavour_result.hpp"

#include <cstdio>
#include <string>

int main() {
    int failures = 0;
    auto check = [&](bool ok, const char* what) {
        std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
        failures += ok ? 0 : 1;
    };
    const flavour_result s = standalone_round_trip();
    const flavour_result b = boost_round_trip();
    const std::string expected = "peer timed out: max_unanswered_pings PINGs in a row went "
                                 "unanswered";
    check(s.echoed == "hello!", "standalone flavour: a frame went there and back");
    check(b.echoed == "hello!", "Boost flavour: a frame went there and back");
    check(s.aborted && b.aborted, "both runs ended with operation_aborted after close()");
    check(s.unanswered_message == expected, "standalone flavour: its own error category");
    check(b.unanswered_message == expected, "Boost flavour: its own error category");
    check(s.category != b.category, "each flavour has a category object of its own");
    return failures == 0 ? 0 : 1;
}
