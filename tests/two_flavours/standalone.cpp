// The standalone Asio flavour of round_trip.hpp.
#include "round_trip.hpp"

#include <asio.hpp>

flavour_result standalone_round_trip() {
    return round_trip<asio::io_context, asio::ip::tcp::socket, asio::ip::tcp::acceptor,
                      asio::ip::tcp::endpoint, asio::ip::address_v4, std::error_code>();
}
