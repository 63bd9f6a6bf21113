// The Boost.Asio flavour of round_trip.hpp (compiled with HEARTBEAT_USE_BOOST_ASIO).
#include "round_trip.hpp"

#include <boost/asio.hpp>

flavour_result boost_round_trip() {
    namespace net = boost::asio;
    return round_trip<net::io_context, net::ip::tcp::socket, net::ip::tcp::acceptor,
                      net::ip::tcp::endpoint, net::ip::address_v4, boost::system::error_code>();
}
