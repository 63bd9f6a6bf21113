// Catch2's main, for Catch2 2.x builds by hand and for the CMake fallback (see CMakeLists.txt).
// Catch2 3.x ships its main in Catch2::Catch2WithMain, so this file is empty there.
#if !__has_include(<catch2/catch_all.hpp>)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#endif
