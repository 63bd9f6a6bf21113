// The synopses of docs/reference.md, compiled and compared with the library. Each region
// declares, in namespace `synopsis`, what the reference shows; the checks after the regions
// compare it with the real names: types, defaults, field order and sizes, member signatures and
// completion signatures at compile time; error messages and wire bytes when run (docs.run test).
// When a check fails, the reference is out of date: fix the region and the prose around it.
#include <heartbeat/heartbeat.hpp>
#include <heartbeat/tcp_keepalive.hpp>

#include <asio.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace synopsis {
using heartbeat::error_code;
using heartbeat::line_framing;

// begin-snippet: session
template <class Stream, class Framing = line_framing, class Clock = std::chrono::steady_clock>
class heartbeat_session {
public:
    using executor_type = typename Stream::executor_type;
    using next_layer_type = Stream;
    using framing_type = Framing;
    using clock_type = Clock;

    explicit heartbeat_session(Stream stream, const heartbeat::options& opts = heartbeat::options(),
                               Framing framing = Framing());
    heartbeat_session(heartbeat_session&&) noexcept;
    heartbeat_session& operator=(heartbeat_session&&) noexcept;
    ~heartbeat_session();

    executor_type get_executor() const noexcept;
    Stream& next_layer() noexcept;
    const Stream& next_layer() const noexcept;
    const heartbeat::options& options() const noexcept;
    heartbeat::statistics statistics() const;

    // Each takes any completion token; without one, the executor's default (asio::deferred
    // from Asio 1.31, Boost 1.86). Completion signatures in the comments.
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_run(CompletionToken&& token = {}); // void(error_code)
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_receive(CompletionToken&& token = {}); // void(error_code, std::string)
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_send(std::string&& frame, CompletionToken&& token = {}); // void(error_code)
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_send(const std::string& frame, CompletionToken&& token = {}); // copies it
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_flush(CompletionToken&& token = {}); // void(error_code)

    error_code try_send(std::string_view frame);
    bool try_receive(std::string& frame);
    bool ending() const noexcept; // the verdict is given, or close() ran

    void set_health_observer(std::function<void(heartbeat::health)> observer);
    void close();
};
// end-snippet: session

using heartbeat::invalid_setting;

// begin-snippet: options
struct options {
    using duration = std::chrono::milliseconds;

    duration ping_interval = std::chrono::seconds(20);
    duration read_timeout = std::chrono::seconds(30);
    duration idle_timeout = duration::zero();
    duration write_timeout = std::chrono::seconds(10);
    duration shutdown_timeout = std::chrono::seconds(1);

    std::size_t max_frame_size = 64 * 1024;
    std::size_t send_queue_limit = 1024 * 1024;
    std::size_t send_high_water_mark = 64 * 1024;
    std::size_t receive_queue_limit = 1024 * 1024;

    bool answer_pings = true;
    std::size_t max_unanswered_pings = 0;
    duration adaptive_read_timeout_floor = duration::zero();
    duration min_peer_ping_interval = duration::zero();

    invalid_setting first_invalid() const noexcept; // the first bad field, never throws
    void validate() const;                          // throws std::invalid_argument (see below)
};
// end-snippet: options

// begin-snippet: error
enum class error {
    timeout = 1,
    idle_timeout,
    write_timeout,
    frame_too_large,
    send_queue_full,
    protocol,
    invalid_frame,
    already_running,
    ping_flood,
    unanswered_pings,
    reconnect_queue_full,
    gave_up,
};

const std::error_category& error_category() noexcept; // boost::system:: with Boost.Asio
error_code make_error_code(error e) noexcept;
// end-snippet: error

// begin-snippet: statistics
struct statistics {
    using duration = std::chrono::steady_clock::duration;

    std::uint64_t pings_sent = 0;
    std::uint64_t pongs_received = 0;
    std::uint64_t pings_received = 0;
    std::uint64_t pongs_sent = 0;
    std::uint64_t frames_received = 0;
    std::uint64_t frames_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    duration last_rtt = duration::zero();
    duration smoothed_rtt = duration::zero();
    duration rtt_variance = duration::zero();
    std::uint64_t stalls = 0;
    bool suspect = false;
    duration since_last_receive = duration::zero();
};
// end-snippet: statistics

// begin-snippet: health
enum class health : unsigned char { healthy, suspect };

const char* to_string(health h) noexcept; // "healthy", "suspect"
// end-snippet: health

// begin-snippet: framing
enum class frame_kind : unsigned char { data, ping, pong };

struct decode_result {
    enum status_type : unsigned char { need_more, frame, failed };

    status_type status = need_more;
    frame_kind kind = frame_kind::data;
    std::size_t payload_offset = 0;
    std::size_t payload_size = 0;
    std::size_t consumed = 0;
    std::uint64_t heartbeat_id = 0;
    error_code error{};

    static decode_result more() noexcept;
    static decode_result fail(error_code ec) noexcept;
    static decode_result make(frame_kind kind, std::size_t offset, std::size_t size,
                              std::size_t consumed, std::uint64_t id = 0) noexcept;
};
// end-snippet: framing

namespace shown { // beside synopsis::line_framing, the real one the session synopsis names

// begin-snippet: line_framing
class line_framing {
public:
    static constexpr std::size_t max_word_size = 16;

    struct config {
        std::string line_ending = "\n"; // what sent lines end in: "\n" or "\r\n"
        std::string ping = "PING";      // the heartbeat words
        std::string pong = "PONG";

        invalid_setting first_invalid() const noexcept; // the first bad field, never throws
        void validate() const;                          // throws std::invalid_argument (see below)
    };

    static constexpr std::size_t max_header_size = 0;
    static constexpr std::size_t max_trailer_size = 2;
    static constexpr std::size_t max_overhead = 2;
    static constexpr std::size_t max_heartbeat_size = max_word_size + 2;
    static constexpr bool heartbeat_ids = false;

    line_framing() noexcept;                // "\n", PING, PONG
    explicit line_framing(const config& c); // throws std::invalid_argument
    line_framing(const line_framing&);      // copies share the configuration
    line_framing& operator=(const line_framing&);
    line_framing(line_framing&&) noexcept; // copies too: a moved-from framing stays usable
    line_framing& operator=(line_framing&&) noexcept;

    std::string_view line_ending() const noexcept;
    std::string_view ping_word() const noexcept;
    std::string_view pong_word() const noexcept;

    // The Framing concept: decode, encode_header, encode_trailer, encode_heartbeat, validate.
};
// end-snippet: line_framing

} // namespace shown

// begin-snippet: reconnect_options
struct reconnect_options {
    using duration = std::chrono::milliseconds;
    static constexpr duration max_duration = std::chrono::hours(24 * 365); // longest wait

    duration initial_backoff = std::chrono::seconds(1);
    double backoff_multiplier = 1.6;
    duration max_backoff = std::chrono::seconds(120);
    bool jitter = true;
    std::uint64_t jitter_seed = 0;
    std::size_t max_attempts = 0;
    duration connect_timeout = std::chrono::seconds(20);
    std::size_t queue_limit = 1024 * 1024;
    bool make_before_break = false;
    bool keep_spare = false;

    invalid_setting first_invalid() const noexcept; // the first bad field, never throws
    void validate() const;                          // throws std::invalid_argument
};

struct reconnect_event {
    enum class kind : unsigned char {
        connecting,
        connected,
        connect_failed,
        disconnected,
        backing_off,
        gave_up,
        spare_connecting,
        spare_ready,
        spare_failed,
        spare_discarded,
        switched,
    };

    kind what = kind::connecting;
    std::size_t attempt = 0;
    error_code error{};
    std::chrono::milliseconds delay{0};
};

const char* to_string(reconnect_event::kind k) noexcept; // "connecting", ...
// end-snippet: reconnect_options

// Declared before the region that names it (the reference shows it after the client).
template <class Stream>
class connect_handler;

// begin-snippet: reconnecting_client
template <class Stream, class Framing = line_framing, class Clock = std::chrono::steady_clock>
class reconnecting_client {
public:
    using session_type = heartbeat_session<Stream, Framing, Clock>;
    using executor_type = typename Stream::executor_type;
    using stream_type = Stream;
    using connect_function = std::function<void(connect_handler<Stream>)>;
    using observer_type = std::function<void(const reconnect_event&)>;

    reconnecting_client(const executor_type& ex, connect_function connect,
                        const reconnect_options& opts = reconnect_options(),
                        const heartbeat::options& session_options = heartbeat::options(),
                        Framing framing = Framing());
    reconnecting_client(reconnecting_client&&) noexcept;
    reconnecting_client& operator=(reconnecting_client&&) noexcept;
    ~reconnecting_client();

    executor_type get_executor() const noexcept;
    const reconnect_options& options() const noexcept;
    const heartbeat::options& session_options() const noexcept;
    bool connected() const noexcept;
    session_type* session() noexcept; // the current session, or null

    void set_observer(observer_type observer);

    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_run(CompletionToken&& token = {}); // void(error_code)
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_send(std::string&& frame, CompletionToken&& token = {}); // void(error_code)
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_send(const std::string& frame, CompletionToken&& token = {}); // copies it
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_receive(CompletionToken&& token = {}); // void(error_code, std::string)

    error_code try_send(std::string_view frame);
    void close();
};

template <class Stream>
class connect_handler { // move-only; call it once
public:
    using executor_type = typename Stream::executor_type;   // the client's
    using cancellation_slot_type = asio::cancellation_slot; // emitted to cancel the attempt

    executor_type get_executor() const noexcept;
    cancellation_slot_type get_cancellation_slot() const noexcept;
    bool cancelled() const noexcept; // check before each step after the first
    void operator()(error_code ec, Stream stream);
};
// end-snippet: reconnecting_client

// begin-snippet: tcp_keepalive
struct tcp_keepalive_options {
    std::chrono::seconds idle{0};
    std::chrono::seconds interval{0};
    int probes = 0;
    std::chrono::milliseconds user_timeout{0};
};

struct tcp_keepalive_result {
    bool keepalive = false;
    bool idle = false;
    bool interval = false;
    bool probes = false;
    bool user_timeout = false;
};

template <class Socket>
tcp_keepalive_result set_tcp_keepalive(Socket& socket, const tcp_keepalive_options& opts,
                                       error_code& ec);
// end-snippet: tcp_keepalive

} // namespace synopsis

// ---------------------------------------------------------------------------------------------
// Compile-time comparisons.

namespace check {

using socket = asio::ip::tcp::socket;
using real_session = heartbeat::heartbeat_session<socket>;
using shown_session = synopsis::heartbeat_session<socket>;

// A member function's signature without its class: the function type, const and noexcept.
template <class F, bool Const, bool Noexcept>
struct signature {};
template <class M>
struct signature_of;
template <class C, class R, class... A>
struct signature_of<R (C::*)(A...)> : signature<R(A...), false, false> {};
template <class C, class R, class... A>
struct signature_of<R (C::*)(A...) const> : signature<R(A...), true, false> {};
template <class C, class R, class... A>
struct signature_of<R (C::*)(A...) noexcept> : signature<R(A...), false, true> {};
template <class C, class R, class... A>
struct signature_of<R (C::*)(A...) const noexcept> : signature<R(A...), true, true> {};
template <class M>
using signature_t = typename signature_of<M>::signature;

#define HEARTBEAT_DOCS_SAME_MEMBER(name)                                                           \
    static_assert(std::is_same_v<signature_t<decltype(&real_session::name)>,                       \
                                 signature_t<decltype(&shown_session::name)>>,                     \
                  "heartbeat_session::" #name " differs from the reference")
HEARTBEAT_DOCS_SAME_MEMBER(get_executor);
HEARTBEAT_DOCS_SAME_MEMBER(options);
HEARTBEAT_DOCS_SAME_MEMBER(statistics);
HEARTBEAT_DOCS_SAME_MEMBER(try_send);
HEARTBEAT_DOCS_SAME_MEMBER(try_receive);
HEARTBEAT_DOCS_SAME_MEMBER(ending);
HEARTBEAT_DOCS_SAME_MEMBER(set_health_observer);
HEARTBEAT_DOCS_SAME_MEMBER(close);
#undef HEARTBEAT_DOCS_SAME_MEMBER

// The two next_layer overloads, exactly.
template <class S>
using next_layer_mutable = socket& (S::*)() noexcept;
template <class S>
using next_layer_const = const socket& (S::*)() const noexcept;
static_assert(sizeof(static_cast<next_layer_mutable<real_session>>(&real_session::next_layer)));
static_assert(sizeof(static_cast<next_layer_const<real_session>>(&real_session::next_layer)));

static_assert(std::is_same_v<real_session::executor_type, shown_session::executor_type>);
static_assert(std::is_same_v<real_session::next_layer_type, shown_session::next_layer_type>);
static_assert(std::is_same_v<real_session::framing_type, shown_session::framing_type>);
static_assert(std::is_same_v<real_session::framing_type, heartbeat::line_framing>);
static_assert(std::is_same_v<real_session::clock_type, shown_session::clock_type>);
static_assert(std::is_same_v<real_session::clock_type, std::chrono::steady_clock>);

// Construction, moves, no copies; the constructor is explicit.
template <class S>
constexpr bool construction_matches() {
    return std::is_constructible_v<S, socket> &&
           std::is_constructible_v<S, socket, const heartbeat::options&> &&
           std::is_constructible_v<S, socket, const heartbeat::options&, heartbeat::line_framing> &&
           !std::is_convertible_v<socket, S> && std::is_nothrow_move_constructible_v<S> &&
           std::is_nothrow_move_assignable_v<S> && !std::is_copy_constructible_v<S> &&
           !std::is_copy_assignable_v<S>;
}
static_assert(construction_matches<real_session>());
static_assert(construction_matches<shown_session>());

// The completion signatures: a token whose async_result hands back the signature it was given.
struct signature_probe {};

} // namespace check

template <class Signature>
struct asio::async_result<check::signature_probe, Signature> {
    using return_type = Signature*;
    template <class Initiation, class... Args>
    static return_type initiate(Initiation&&, check::signature_probe, Args&&...) {
        return nullptr;
    }
};

namespace check {

using run_signature = decltype(std::declval<real_session&>().async_run(signature_probe{}));
using receive_signature = decltype(std::declval<real_session&>().async_receive(signature_probe{}));
using send_signature =
    decltype(std::declval<real_session&>().async_send(std::string(), signature_probe{}));
using flush_signature = decltype(std::declval<real_session&>().async_flush(signature_probe{}));
static_assert(std::is_same_v<run_signature, void (*)(heartbeat::error_code)>);
static_assert(std::is_same_v<receive_signature, void (*)(heartbeat::error_code, std::string)>);
static_assert(std::is_same_v<send_signature, void (*)(heartbeat::error_code)>);
static_assert(std::is_same_v<flush_signature, void (*)(heartbeat::error_code)>);

// Plain structs: same field types, defaults, order and size.
#define HEARTBEAT_DOCS_SAME_FIELD(type, field)                                                     \
    static_assert(                                                                                 \
        std::is_same_v<decltype(heartbeat::type::field), decltype(synopsis::type::field)>,         \
        #type "::" #field ": type differs from the reference");                                    \
    static_assert(heartbeat::type{}.field == synopsis::type{}.field,                               \
                  #type "::" #field ": default differs from the reference");                       \
    static_assert(offsetof(heartbeat::type, field) == offsetof(synopsis::type, field),             \
                  #type "::" #field ": position differs from the reference")

static_assert(std::is_same_v<heartbeat::options::duration, synopsis::options::duration>);
HEARTBEAT_DOCS_SAME_FIELD(options, ping_interval);
HEARTBEAT_DOCS_SAME_FIELD(options, read_timeout);
HEARTBEAT_DOCS_SAME_FIELD(options, idle_timeout);
HEARTBEAT_DOCS_SAME_FIELD(options, write_timeout);
HEARTBEAT_DOCS_SAME_FIELD(options, shutdown_timeout);
HEARTBEAT_DOCS_SAME_FIELD(options, max_frame_size);
HEARTBEAT_DOCS_SAME_FIELD(options, send_queue_limit);
HEARTBEAT_DOCS_SAME_FIELD(options, send_high_water_mark);
HEARTBEAT_DOCS_SAME_FIELD(options, receive_queue_limit);
HEARTBEAT_DOCS_SAME_FIELD(options, answer_pings);
HEARTBEAT_DOCS_SAME_FIELD(options, max_unanswered_pings);
HEARTBEAT_DOCS_SAME_FIELD(options, adaptive_read_timeout_floor);
HEARTBEAT_DOCS_SAME_FIELD(options, min_peer_ping_interval);
static_assert(sizeof(heartbeat::options) == sizeof(synopsis::options),
              "options has fields the reference does not show");
static_assert(
    std::is_same_v<decltype(&heartbeat::options::validate), void (heartbeat::options::*)() const>);
static_assert(std::is_same_v<decltype(&heartbeat::options::first_invalid),
                             heartbeat::invalid_setting (heartbeat::options::*)() const noexcept>);

static_assert(std::is_same_v<heartbeat::statistics::duration, synopsis::statistics::duration>);
HEARTBEAT_DOCS_SAME_FIELD(statistics, pings_sent);
HEARTBEAT_DOCS_SAME_FIELD(statistics, pongs_received);
HEARTBEAT_DOCS_SAME_FIELD(statistics, pings_received);
HEARTBEAT_DOCS_SAME_FIELD(statistics, pongs_sent);
HEARTBEAT_DOCS_SAME_FIELD(statistics, frames_received);
HEARTBEAT_DOCS_SAME_FIELD(statistics, frames_sent);
HEARTBEAT_DOCS_SAME_FIELD(statistics, bytes_received);
HEARTBEAT_DOCS_SAME_FIELD(statistics, bytes_sent);
HEARTBEAT_DOCS_SAME_FIELD(statistics, last_rtt);
HEARTBEAT_DOCS_SAME_FIELD(statistics, smoothed_rtt);
HEARTBEAT_DOCS_SAME_FIELD(statistics, rtt_variance);
HEARTBEAT_DOCS_SAME_FIELD(statistics, stalls);
HEARTBEAT_DOCS_SAME_FIELD(statistics, suspect);
HEARTBEAT_DOCS_SAME_FIELD(statistics, since_last_receive);
static_assert(sizeof(heartbeat::statistics) == sizeof(synopsis::statistics),
              "statistics has fields the reference does not show");

HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_options, idle);
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_options, interval);
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_options, probes);
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_options, user_timeout);
static_assert(sizeof(heartbeat::tcp_keepalive_options) == sizeof(synopsis::tcp_keepalive_options));
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_result, keepalive);
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_result, idle);
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_result, interval);
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_result, probes);
HEARTBEAT_DOCS_SAME_FIELD(tcp_keepalive_result, user_timeout);
static_assert(sizeof(heartbeat::tcp_keepalive_result) == sizeof(synopsis::tcp_keepalive_result));
template <class Result, class Options>
using keepalive_function = Result (*)(socket&, const Options&, heartbeat::error_code&);
static_assert(std::is_same_v<decltype(&heartbeat::set_tcp_keepalive<socket>),
                             keepalive_function<heartbeat::tcp_keepalive_result,
                                                heartbeat::tcp_keepalive_options>>);
static_assert(std::is_same_v<
              decltype(&synopsis::set_tcp_keepalive<socket>),
              keepalive_function<synopsis::tcp_keepalive_result, synopsis::tcp_keepalive_options>>);

// decode_result: its fields are not all literal types (error_code), so compare without defaults.
#define HEARTBEAT_DOCS_SAME_LAYOUT(type, field)                                                    \
    static_assert(                                                                                 \
        std::is_same_v<decltype(heartbeat::type::field), decltype(synopsis::type::field)> ||       \
            std::is_enum_v<decltype(heartbeat::type::field)>,                                      \
        #type "::" #field ": type differs from the reference");                                    \
    static_assert(offsetof(heartbeat::type, field) == offsetof(synopsis::type, field),             \
                  #type "::" #field ": position differs from the reference")
HEARTBEAT_DOCS_SAME_LAYOUT(decode_result, status);
HEARTBEAT_DOCS_SAME_LAYOUT(decode_result, kind);
HEARTBEAT_DOCS_SAME_LAYOUT(decode_result, payload_offset);
HEARTBEAT_DOCS_SAME_LAYOUT(decode_result, payload_size);
HEARTBEAT_DOCS_SAME_LAYOUT(decode_result, consumed);
HEARTBEAT_DOCS_SAME_LAYOUT(decode_result, heartbeat_id);
HEARTBEAT_DOCS_SAME_LAYOUT(decode_result, error);
static_assert(sizeof(heartbeat::decode_result) == sizeof(synopsis::decode_result));
template <class R>
using make_function = R (*)(heartbeat::frame_kind, std::size_t, std::size_t, std::size_t,
                            std::uint64_t) noexcept;
static_assert(std::is_same_v<decltype(&heartbeat::decode_result::make),
                             make_function<heartbeat::decode_result>>);
static_assert(std::is_same_v<decltype(&heartbeat::decode_result::more),
                             heartbeat::decode_result (*)() noexcept>);
static_assert(std::is_same_v<decltype(&heartbeat::decode_result::fail),
                             heartbeat::decode_result (*)(heartbeat::error_code) noexcept>);

// reconnecting_client: members, types, construction, completion signatures.
using real_client = heartbeat::reconnecting_client<socket>;
using shown_client = synopsis::reconnecting_client<socket>;
#define HEARTBEAT_DOCS_SAME_CLIENT_MEMBER(name)                                                    \
    static_assert(std::is_same_v<signature_t<decltype(&real_client::name)>,                        \
                                 signature_t<decltype(&shown_client::name)>>,                      \
                  "reconnecting_client::" #name " differs from the reference")
HEARTBEAT_DOCS_SAME_CLIENT_MEMBER(get_executor);
HEARTBEAT_DOCS_SAME_CLIENT_MEMBER(connected);
HEARTBEAT_DOCS_SAME_CLIENT_MEMBER(try_send);
HEARTBEAT_DOCS_SAME_CLIENT_MEMBER(close);
#undef HEARTBEAT_DOCS_SAME_CLIENT_MEMBER
static_assert(
    std::is_same_v<decltype(&real_client::options),
                   const heartbeat::reconnect_options& (real_client::*)() const noexcept>);
static_assert(std::is_same_v<decltype(&real_client::session_options),
                             const heartbeat::options& (real_client::*)() const noexcept>);
static_assert(std::is_same_v<decltype(&real_client::session),
                             real_client::session_type* (real_client::*)() noexcept>);
static_assert(std::is_same_v<decltype(&real_client::set_observer),
                             void (real_client::*)(real_client::observer_type)>);
static_assert(std::is_same_v<real_client::session_type, real_session>);
static_assert(std::is_same_v<real_client::executor_type, shown_client::executor_type>);
static_assert(std::is_same_v<real_client::stream_type, socket>);
static_assert(std::is_same_v<real_client::connect_function,
                             std::function<void(heartbeat::connect_handler<socket>)>>);
static_assert(std::is_same_v<real_client::observer_type,
                             std::function<void(const heartbeat::reconnect_event&)>>);
static_assert(
    std::is_constructible_v<real_client, real_client::executor_type,
                            real_client::connect_function> &&
    std::is_constructible_v<real_client, real_client::executor_type, real_client::connect_function,
                            const heartbeat::reconnect_options&, const heartbeat::options&,
                            heartbeat::line_framing> &&
    std::is_nothrow_move_constructible_v<real_client> &&
    std::is_nothrow_move_assignable_v<real_client> && !std::is_copy_constructible_v<real_client>);
using client_run_signature = decltype(std::declval<real_client&>().async_run(signature_probe{}));
using client_receive_signature =
    decltype(std::declval<real_client&>().async_receive(signature_probe{}));
using client_send_signature =
    decltype(std::declval<real_client&>().async_send(std::string(), signature_probe{}));
using client_send_copy_signature = decltype(std::declval<real_client&>().async_send(
    std::declval<const std::string&>(), signature_probe{}));
static_assert(std::is_same_v<client_run_signature, void (*)(heartbeat::error_code)>);
static_assert(
    std::is_same_v<client_receive_signature, void (*)(heartbeat::error_code, std::string)>);
static_assert(std::is_same_v<client_send_signature, void (*)(heartbeat::error_code)>);
static_assert(std::is_same_v<client_send_copy_signature, void (*)(heartbeat::error_code)>);
using real_handler = heartbeat::connect_handler<socket>;
using shown_handler = synopsis::connect_handler<socket>;
static_assert(std::is_same_v<real_handler::executor_type, socket::executor_type>);
static_assert(std::is_same_v<real_handler::cancellation_slot_type, asio::cancellation_slot>);
static_assert(std::is_same_v<shown_handler::executor_type, socket::executor_type>);
static_assert(std::is_same_v<shown_handler::cancellation_slot_type, asio::cancellation_slot>);
static_assert(std::is_same_v<signature_t<decltype(&real_handler::get_executor)>,
                             signature_t<decltype(&shown_handler::get_executor)>>);
static_assert(std::is_same_v<signature_t<decltype(&real_handler::get_cancellation_slot)>,
                             signature_t<decltype(&shown_handler::get_cancellation_slot)>>);
static_assert(std::is_same_v<signature_t<decltype(&real_handler::cancelled)>,
                             signature_t<decltype(&shown_handler::cancelled)>>);
static_assert(std::is_same_v<signature_t<decltype(&real_handler::operator())>,
                             signature_t<decltype(&shown_handler::operator())>>);
static_assert(std::is_nothrow_move_constructible_v<real_handler> &&
              !std::is_copy_constructible_v<real_handler>);

static_assert(
    std::is_same_v<heartbeat::reconnect_options::duration, synopsis::reconnect_options::duration>);
static_assert(heartbeat::reconnect_options::max_duration ==
              synopsis::reconnect_options::max_duration);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, initial_backoff);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, backoff_multiplier);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, max_backoff);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, jitter);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, jitter_seed);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, max_attempts);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, connect_timeout);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, queue_limit);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, make_before_break);
HEARTBEAT_DOCS_SAME_FIELD(reconnect_options, keep_spare);
static_assert(sizeof(heartbeat::reconnect_options) == sizeof(synopsis::reconnect_options),
              "reconnect_options has fields the reference does not show");
static_assert(
    std::is_same_v<decltype(&heartbeat::reconnect_options::first_invalid),
                   heartbeat::invalid_setting (heartbeat::reconnect_options::*)() const noexcept>);
HEARTBEAT_DOCS_SAME_LAYOUT(reconnect_event, what);
HEARTBEAT_DOCS_SAME_LAYOUT(reconnect_event, attempt);
HEARTBEAT_DOCS_SAME_LAYOUT(reconnect_event, error);
HEARTBEAT_DOCS_SAME_LAYOUT(reconnect_event, delay);
static_assert(sizeof(heartbeat::reconnect_event) == sizeof(synopsis::reconnect_event));

// Enumerations: same values, same underlying types.
template <class A, class B>
constexpr bool same_value(A a, B b) {
    return static_cast<long>(a) == static_cast<long>(b);
}
static_assert(std::is_same_v<std::underlying_type_t<heartbeat::frame_kind>,
                             std::underlying_type_t<synopsis::frame_kind>>);
static_assert(same_value(heartbeat::frame_kind::data, synopsis::frame_kind::data) &&
              same_value(heartbeat::frame_kind::ping, synopsis::frame_kind::ping) &&
              same_value(heartbeat::frame_kind::pong, synopsis::frame_kind::pong));
static_assert(same_value(heartbeat::decode_result::need_more, synopsis::decode_result::need_more) &&
              same_value(heartbeat::decode_result::frame, synopsis::decode_result::frame) &&
              same_value(heartbeat::decode_result::failed, synopsis::decode_result::failed));
static_assert(std::is_same_v<std::underlying_type_t<heartbeat::health>,
                             std::underlying_type_t<synopsis::health>>);
static_assert(same_value(heartbeat::health::healthy, synopsis::health::healthy) &&
              same_value(heartbeat::health::suspect, synopsis::health::suspect));
// to_string is overloaded (health, reconnect_event::kind): each overload, exactly.
static_assert(
    sizeof(static_cast<const char* (*)(heartbeat::health) noexcept>(&heartbeat::to_string)));
static_assert(sizeof(static_cast<const char* (*)(heartbeat::reconnect_event::kind) noexcept>(
    &heartbeat::to_string)));
static_assert(same_value(heartbeat::error::timeout, synopsis::error::timeout) &&
              same_value(heartbeat::error::idle_timeout, synopsis::error::idle_timeout) &&
              same_value(heartbeat::error::write_timeout, synopsis::error::write_timeout) &&
              same_value(heartbeat::error::frame_too_large, synopsis::error::frame_too_large) &&
              same_value(heartbeat::error::send_queue_full, synopsis::error::send_queue_full) &&
              same_value(heartbeat::error::protocol, synopsis::error::protocol) &&
              same_value(heartbeat::error::invalid_frame, synopsis::error::invalid_frame) &&
              same_value(heartbeat::error::already_running, synopsis::error::already_running) &&
              same_value(heartbeat::error::ping_flood, synopsis::error::ping_flood) &&
              same_value(heartbeat::error::unanswered_pings, synopsis::error::unanswered_pings) &&
              same_value(heartbeat::error::reconnect_queue_full,
                         synopsis::error::reconnect_queue_full) &&
              same_value(heartbeat::error::gave_up, synopsis::error::gave_up));
static_assert(std::is_same_v<decltype(&heartbeat::make_error_code),
                             heartbeat::error_code (*)(heartbeat::error) noexcept>);
static_assert(std::is_error_code_enum_v<heartbeat::error>);
static_assert(std::is_same_v<decltype(heartbeat::error_category()), const std::error_category&>);

// line_framing: constants, construction, accessors and the config's fields.
using real_line = heartbeat::line_framing;
using shown_line = synopsis::shown::line_framing;
static_assert(real_line::max_word_size == shown_line::max_word_size &&
              real_line::max_header_size == shown_line::max_header_size &&
              real_line::max_trailer_size == shown_line::max_trailer_size &&
              real_line::max_overhead == shown_line::max_overhead &&
              real_line::max_heartbeat_size == shown_line::max_heartbeat_size &&
              real_line::heartbeat_ids == shown_line::heartbeat_ids);
static_assert(real_line::max_word_size == 16 && real_line::max_header_size == 0 &&
              real_line::max_trailer_size == 2 && real_line::max_overhead == 2 &&
              real_line::max_heartbeat_size == 18 && !real_line::heartbeat_ids);
template <class F>
constexpr bool line_construction_matches() {
    return std::is_nothrow_default_constructible_v<F> &&
           std::is_constructible_v<F, const typename F::config&> &&
           !std::is_convertible_v<const typename F::config&, F> &&
           std::is_copy_constructible_v<F> && std::is_copy_assignable_v<F> &&
           std::is_nothrow_move_constructible_v<F> && std::is_nothrow_move_assignable_v<F>;
}
static_assert(line_construction_matches<real_line>());
static_assert(line_construction_matches<shown_line>());
#define HEARTBEAT_DOCS_SAME_LINE_MEMBER(name)                                                      \
    static_assert(std::is_same_v<signature_t<decltype(&real_line::name)>,                          \
                                 signature_t<decltype(&shown_line::name)>>,                        \
                  "line_framing::" #name " differs from the reference")
HEARTBEAT_DOCS_SAME_LINE_MEMBER(line_ending);
HEARTBEAT_DOCS_SAME_LINE_MEMBER(ping_word);
HEARTBEAT_DOCS_SAME_LINE_MEMBER(pong_word);
#undef HEARTBEAT_DOCS_SAME_LINE_MEMBER
static_assert(
    std::is_same_v<decltype(real_line::config::line_ending),
                   decltype(shown_line::config::line_ending)> &&
    std::is_same_v<decltype(real_line::config::ping), decltype(shown_line::config::ping)> &&
    std::is_same_v<decltype(real_line::config::pong), decltype(shown_line::config::pong)>);
static_assert(sizeof(real_line::config) == sizeof(shown_line::config),
              "line_framing::config has fields the reference does not show");
static_assert(
    std::is_same_v<decltype(&real_line::config::validate), void (real_line::config::*)() const>);
static_assert(std::is_same_v<decltype(&real_line::config::first_invalid),
                             heartbeat::invalid_setting (real_line::config::*)() const noexcept>);

// length_prefixed_framing's sizes quoted in the reference.
using lp = heartbeat::length_prefixed_framing;
static_assert(lp::header_size == 5 && lp::id_size == 8 && lp::max_header_size == 5 &&
              lp::max_trailer_size == 0 && lp::max_overhead == 5 && lp::max_heartbeat_size == 13 &&
              lp::heartbeat_ids && lp::type_data == 0 && lp::type_ping == 1 && lp::type_pong == 2);

} // namespace check

// ---------------------------------------------------------------------------------------------
// Run-time comparisons: what the reference's tables say.

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "docs/reference.md is out of date: %s\n", what);
        ++failures;
    }
}

// The error table of docs/reference.md, in order.
const char* const messages[] = {
    "peer timed out: nothing received within the read timeout",
    "peer idle: no application frame received within the idle timeout",
    "write timed out: the peer stopped reading",
    "frame larger than max_frame_size",
    "send queue full",
    "protocol error: malformed frame",
    "frame cannot be encoded by this framing",
    "session already running or ran: a session runs once",
    "peer pings too often",
    "peer timed out: max_unanswered_pings PINGs in a row went unanswered",
    "reconnect queue full: too much sent while disconnected",
    "gave up reconnecting: max_attempts connection attempts in a row failed",
};

std::string bytes(const char* data, std::size_t size) {
    return std::string(data, size);
}

} // namespace

int main() {
    const int count = static_cast<int>(sizeof messages / sizeof messages[0]);
    for (int i = 0; i < count; ++i) {
        const heartbeat::error_code ec = heartbeat::make_error_code(heartbeat::error(i + 1));
        expect(ec.message() == messages[i], "an error message");
    }
    expect(heartbeat::make_error_code(heartbeat::error(count + 1)).message() ==
               "unknown heartbeat error",
           "heartbeat::error has more values than the error table");
    expect(std::strcmp(heartbeat::error_category().name(), "heartbeat") == 0, "category name");
    {
        using real = heartbeat::reconnect_event::kind;
        using shown = synopsis::reconnect_event::kind;
        const char* const names[] = {"connecting",       "connected",   "connect_failed",
                                     "disconnected",     "backing_off", "gave_up",
                                     "spare_connecting", "spare_ready", "spare_failed",
                                     "spare_discarded",  "switched"};
        const shown kinds[] = {shown::connecting,       shown::connected,   shown::connect_failed,
                               shown::disconnected,     shown::backing_off, shown::gave_up,
                               shown::spare_connecting, shown::spare_ready, shown::spare_failed,
                               shown::spare_discarded,  shown::switched};
        for (std::size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
            expect(static_cast<int>(kinds[i]) == static_cast<int>(i), "reconnect_event::kind");
            expect(std::strcmp(heartbeat::to_string(static_cast<real>(i)), names[i]) == 0,
                   "reconnect_event::kind's names");
        }
        expect(std::strcmp(heartbeat::to_string(static_cast<real>(11)), "unknown") == 0,
               "reconnect_event::kind has more values than the reference");
    }
    expect(std::strcmp(heartbeat::to_string(heartbeat::health::suspect), "suspect") == 0 &&
               std::strcmp(heartbeat::to_string(heartbeat::health::healthy), "healthy") == 0,
           "to_string(health)");

    // line_framing: "payload\n" out; "PING\n", "PONG\n"; "\r\n" accepted in.
    heartbeat::line_framing line;
    char out[32];
    expect(bytes(out, line.encode_heartbeat(heartbeat::frame_kind::ping, 7, out)) == "PING\n",
           "line PING");
    expect(bytes(out, line.encode_heartbeat(heartbeat::frame_kind::pong, 7, out)) == "PONG\n",
           "line PONG");
    expect(line.encode_header(5, out) == 0 && bytes(out, line.encode_trailer(out)) == "\n",
           "line data frame");
    const auto crlf = line.decode("hi\r\n", 4, 64);
    expect(crlf.status == heartbeat::decode_result::frame && crlf.payload_size == 2 &&
               crlf.consumed == 4,
           "line CRLF");
    const auto ping = line.decode("PING\r\n", 6, 1);
    expect(ping.status == heartbeat::decode_result::frame &&
               ping.kind == heartbeat::frame_kind::ping,
           "line PING whatever max_frame_size");
    const auto crs = line.decode("x\r\r\n", 4, 64);
    expect(crs.status == heartbeat::decode_result::frame && crs.payload_size == 1 &&
               crs.consumed == 4,
           "line: every CR before the LF is line ending");
    expect(line.validate("PONG", 4) == heartbeat::error::invalid_frame &&
               line.validate("a\nb", 3) == heartbeat::error::invalid_frame &&
               line.validate("a\r", 2) == heartbeat::error::invalid_frame &&
               !line.validate("PING ", 5) && !line.validate("", 0),
           "line validate");
    heartbeat::line_framing tiny;
    expect(tiny.decode("01234", 5, 2).status == heartbeat::decode_result::need_more &&
               tiny.decode("012345", 6, 2).error == heartbeat::error::frame_too_large,
           "line: more than max(max_frame_size, longer word) + 1 bytes without LF");
    heartbeat::line_framing tiny2;
    expect(tiny2.decode("abc\n", 4, 2).error == heartbeat::error::frame_too_large,
           "line: a payload over max_frame_size");

    // line_framing::config: the defaults, the ending and words sent, the validation messages.
    const heartbeat::line_framing::config defaults;
    expect(defaults.line_ending == "\n" && defaults.ping == "PING" && defaults.pong == "PONG" &&
               line.line_ending() == "\n" && line.ping_word() == "PING" &&
               line.pong_word() == "PONG",
           "line_framing::config defaults");
    heartbeat::line_framing::config c;
    c.line_ending = "\r\n";
    c.ping = "ping";
    c.pong = "pong";
    heartbeat::line_framing crlf_line(c);
    expect(bytes(out, crlf_line.encode_heartbeat(heartbeat::frame_kind::ping, 0, out)) ==
                   "ping\r\n" &&
               bytes(out, crlf_line.encode_trailer(out)) == "\r\n" &&
               crlf_line.validate("pong", 4) == heartbeat::error::invalid_frame &&
               !crlf_line.validate("PONG", 4),
           "configured line_framing");
    auto message = [](heartbeat::line_framing::config bad) {
        try {
            heartbeat::line_framing f(bad);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    auto starts = [](const std::string& text, const char* prefix) {
        return text.rfind(prefix, 0) == 0;
    };
    c = {};
    c.line_ending = "\r";
    expect(starts(message(c), "heartbeat::line_framing::config::line_ending: "), "line_ending");
    c = {};
    c.ping = "";
    expect(starts(message(c), "heartbeat::line_framing::config::ping: "), "empty ping");
    c = {};
    c.pong = std::string(17, 'x');
    expect(starts(message(c), "heartbeat::line_framing::config::pong: "), "pong > 16 bytes");
    c = {};
    c.pong = std::string(16, 'x');
    expect(message(c).empty(), "a 16-byte word");
    c = {};
    c.ping = "A\rB";
    expect(starts(message(c), "heartbeat::line_framing::config::ping: "), "CR in ping");
    c = {};
    c.pong = c.ping;
    expect(starts(message(c), "heartbeat::line_framing::config::pong: "), "pong == ping");

    // length_prefixed_framing: 4-byte big-endian length, type byte, payload; ids big-endian.
    heartbeat::length_prefixed_framing lpf;
    expect(bytes(out, lpf.encode_header(0x010203, out)) == bytes("\x00\x01\x02\x03\x00", 5),
           "length-prefixed data header");
    expect(
        bytes(out, lpf.encode_heartbeat(heartbeat::frame_kind::ping, 0x1122334455667788u, out)) ==
            bytes("\x00\x00\x00\x08\x01\x11\x22\x33\x44\x55\x66\x77\x88", 13),
        "length-prefixed PING");
    expect(bytes(out, lpf.encode_heartbeat(heartbeat::frame_kind::pong, 1, out)) ==
               bytes("\x00\x00\x00\x08\x02\x00\x00\x00\x00\x00\x00\x00\x01", 13),
           "length-prefixed PONG");
    expect(lpf.decode("\x00\x00\x00\x01\x03x", 6, 64).error == heartbeat::error::protocol,
           "length-prefixed unknown type");
    expect(lpf.decode("\x00\x00\x00\x07\x01", 5, 64).error == heartbeat::error::protocol,
           "length-prefixed heartbeat of the wrong length");
    expect(lpf.decode("\x00\x00\x01\x00\x00", 5, 255).error == heartbeat::error::frame_too_large,
           "length-prefixed oversized header refused before its payload");

    // validate(): the reference lists the rules; spot-check the cross-field ones.
    auto refused = [](heartbeat::options o) {
        try {
            o.validate();
        } catch (const std::invalid_argument&) {
            return true;
        }
        return false;
    };
    heartbeat::options o;
    o.read_timeout = o.ping_interval;
    expect(refused(o), "read_timeout must exceed ping_interval");
    o = {};
    o.ping_interval = {};
    o.read_timeout = std::chrono::milliseconds(1);
    expect(!refused(o), "read_timeout needs no ping_interval");
    o = {};
    o.adaptive_read_timeout_floor = o.read_timeout + std::chrono::milliseconds(1);
    expect(refused(o), "adaptive_read_timeout_floor must not exceed read_timeout");
    o = {};
    o.send_queue_limit = o.max_frame_size - 1;
    expect(refused(o), "send_queue_limit >= max_frame_size");
    o = {};
    o.max_frame_size = 0x80000000u;
    expect(refused(o), "max_frame_size < 2 GiB");

    if (failures == 0)
        std::puts("reference synopses, error table and wire formats match the library");
    return failures == 0 ? 0 : 1;
}
