// What each flavour's round trip reports to main.cpp: plain types, the same in both flavours.
#ifndef HEARTBEAT_TESTS_TWO_FLAVOURS_FLAVOUR_RESULT_HPP
#define HEARTBEAT_TESTS_TWO_FLAVOURS_FLAVOUR_RESULT_HPP

#include <string>

struct flavour_result {
    std::string echoed;             // what came back through a session pair
    bool aborted = false;           // the run ended with operation_aborted
    std::string unanswered_message; // heartbeat::error::unanswered_pings' message
    const void* category = nullptr; // &heartbeat::error_category()
};

flavour_result standalone_round_trip();
flavour_result boost_round_trip();

#endif
