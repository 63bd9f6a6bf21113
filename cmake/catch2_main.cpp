// main() for tests built against Catch2 2, which is header-only; Catch2 3 has Catch2WithMain.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
