// heartbeat::error and its category: names, messages, and interplay with heartbeat::error_code
// (std::error_code, or boost::system::error_code over Boost.Asio).
#include "support.hpp"

#include <set>

namespace {

using heartbeat::error;

const error all_errors[] = {
    error::timeout,          error::idle_timeout,         error::write_timeout,
    error::frame_too_large,  error::send_queue_full,      error::protocol,
    error::invalid_frame,    error::already_running,      error::ping_flood,
    error::unanswered_pings, error::reconnect_queue_full, error::gave_up,
};

} // namespace

TEST_CASE("the error category is named heartbeat", "[error]") {
    CHECK(std::string(heartbeat::error_category().name()) == "heartbeat");
    // One instance: comparing codes compares category addresses.
    CHECK(&heartbeat::error_category() == &heartbeat::error_category());
    CHECK(heartbeat::make_error_code(error::timeout).category() == heartbeat::error_category());
}

TEST_CASE("every error has a non-empty message distinct from the others", "[error]") {
    std::set<std::string> messages;
    for (error e : all_errors) {
        const std::string m = heartbeat::make_error_code(e).message();
        INFO("error value " << static_cast<int>(e) << ": " << m);
        CHECK_FALSE(m.empty());
        CHECK(m != heartbeat::error_category().message(0));
        messages.insert(m);
    }
    CHECK(messages.size() == sizeof(all_errors) / sizeof(all_errors[0]));
    // Values outside the enum still get a message, and do not reuse a real one.
    CHECK_FALSE(heartbeat::error_category().message(9999).empty());
    CHECK(messages.count(heartbeat::error_category().message(9999)) == 0);
}

TEST_CASE("error values start at 1 so that no error converts to success", "[error]") {
    for (error e : all_errors) {
        const hbt::error_code ec = e;
        CHECK(static_cast<bool>(ec));
        CHECK(ec.value() == static_cast<int>(e));
    }
}

TEST_CASE("an error enum converts to std::error_code and compares with it", "[error]") {
    hbt::error_code ec = heartbeat::error::timeout;
    CHECK(ec == heartbeat::error::timeout);
    CHECK(heartbeat::error::timeout == ec);
    CHECK(ec != heartbeat::error::idle_timeout);
    CHECK(ec.category() == heartbeat::error_category());
    CHECK(ec.message() == heartbeat::make_error_code(heartbeat::error::timeout).message());

    ec = heartbeat::error::send_queue_full;
    CHECK(ec == heartbeat::error::send_queue_full);

    // Same value, other category: not equal.
    const hbt::error_code generic(static_cast<int>(heartbeat::error::timeout),
                                  hbt::generic_category());
    CHECK(generic != heartbeat::error::timeout);
    CHECK(ec != hbt::error_code());

#if defined(HEARTBEAT_USE_BOOST_ASIO)
    // Over Boost.Asio, handlers receive boost::system::error_code, and the library's is that.
    const boost::system::error_code asio_ec = heartbeat::error::protocol;
    CHECK(asio_ec == heartbeat::error::protocol);
    static_assert(std::is_same<heartbeat::error_code, boost::system::error_code>::value,
                  "handlers receive boost::system::error_code");
    // It still converts to std::error_code, keeping the category's name and messages.
    const std::error_code std_ec = asio_ec;
    CHECK(std_ec.message() == asio_ec.message());
    CHECK(std::string(std_ec.category().name()) == "heartbeat");
#else
    // Asio's error_code is std::error_code in standalone mode: handlers get the same type.
    const asio::error_code asio_ec = heartbeat::error::protocol;
    CHECK(asio_ec == heartbeat::error::protocol);
    static_assert(std::is_same<heartbeat::error_code, std::error_code>::value,
                  "handlers receive std::error_code");
#endif
    static_assert(hbt::is_error_code_enum<heartbeat::error>::value,
                  "heartbeat::error is an error code enum");
}

TEST_CASE("a system_error built from a heartbeat error keeps its code", "[error]") {
    try {
        throw hbt::system_error(heartbeat::error::write_timeout);
    } catch (const hbt::system_error& e) {
        CHECK(e.code() == heartbeat::error::write_timeout);
        CHECK(std::string(e.what()).find(
                  heartbeat::make_error_code(heartbeat::error::write_timeout).message()) !=
              std::string::npos);
    }
}
