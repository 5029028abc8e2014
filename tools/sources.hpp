// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — data sources for `lockstep serve`: what a DATA REQUEST is answered with.
//
//   sensor[:m]    a simulated sensor: the last m readings (default 5) as lines
//                 "t=<unix ms> temp=<degrees C> hum=<%>" from a deterministic random
//                 walk; a request body "m=<k>" asks for the last k (1..100)
//   file:PATH     the file's bytes (read per request), at most max_data
//   cmd:COMMAND   /bin/sh -c COMMAND per request: the request body on its stdin,
//                 its stdout is the response; on a timeout (killed), a non-zero
//                 exit or output over max_data the response is a short "error: ..."
//                 text, and the server never waits longer than the timeout
//   tcp:HOST:PORT  a framed exchange with a TCP service per request (u32 big-endian
//                 length + bytes each way), service_sources.cpp
//   http://HOST:PORT/PATH  the request body POSTed, the response body returned
//                 (libcurl), service_sources.cpp
// The cmd, tcp and http sources give up after the timeout (--cmd-timeout) and then
// answer "error: ..." naming the cause.
//
// respond() is called on the server's threads and is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lockstep::cli {

class Source {
public:
    virtual ~Source() = default;
    virtual std::vector<std::uint8_t> respond(std::span<const std::uint8_t> request) = 0;
    virtual std::string describe() const = 0;
};

// Exit::usage for an unknown kind or a bad sensor count, Exit::file for a file
// source whose file cannot be read now.
std::unique_ptr<Source> make_source(const std::string& spec, std::size_t max_data,
                                    std::chrono::milliseconds cmd_timeout);

// service_sources.cpp: spec is "tcp:HOST:PORT" / the URL (Exit::usage if malformed).
std::unique_ptr<Source> make_tcp_source(const std::string& spec, std::size_t max_data,
                                        std::chrono::milliseconds timeout);
std::unique_ptr<Source> make_http_source(const std::string& url, std::size_t max_data,
                                         std::chrono::milliseconds timeout);

inline constexpr int kSensorDefaultReadings = 5;
inline constexpr int kSensorMaxReadings = 100;

}  // namespace lockstep::cli
