// The library's version; CMake reads it from here, so it is written in one place.
#ifndef HEARTBEAT_VERSION_HPP
#define HEARTBEAT_VERSION_HPP

#define HEARTBEAT_VERSION_MAJOR 0
#define HEARTBEAT_VERSION_MINOR 1
#define HEARTBEAT_VERSION_PATCH 0
#define HEARTBEAT_VERSION "0.1.0"

#endif
