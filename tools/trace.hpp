// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — the --trace output: one line per message sent or received, in
// the seed's field notation, and one per rejected message. Never prints keys,
// PSKs or any other secret (TraceEntry carries none).
//
//   [client] snd hello            seq=0x1a2b3c4d ttl=1795000025 epoch=0 len=83
//   [server 127.0.0.1:40123] rcv data request     seq=0x.. ack=0x.. ttl=.. data=3 epoch=1 len=..
//   [server 127.0.0.1:40123] reject: bad_mac (fatal)
#pragma once

#include <cstdio>
#include <mutex>
#include <cstdint>
#include <string>
#include <string_view>

#include "lockstep/engine.hpp"

namespace lockstep::cli {

// Where trace lines go; whole lines are written under a lock, so lines from
// several connections (server threads, or the demo's two ends) never interleave.
// json: every line is one JSON object (`--log-format json`, for log collectors):
//   {"ts":1795000000123,"kind":"trace","who":"server 127.0.0.1:40123","dir":"rcv","type":"data request",
//    "seq":..,"ack":..,"ttl":..,"epoch":1,"len":..,"data":3,"resent":false}
//   {"ts":..,"kind":"fault","who":"...","error":"bad_mac","fatal":true}
//   {"ts":..,"kind":"log","message":"half-open budget full: ..."}
// and status lines (serve --status-interval) {"ts":..,"kind":"status",...}.
class TraceSink {
public:
    explicit TraceSink(std::FILE* out, bool json = false) : out_(out), json_(json) {}
    void line(const std::string& s) noexcept;
    bool json() const noexcept { return json_; }

private:
    std::FILE* out_;
    bool json_;
    std::mutex mu_;
};

// A JSON string literal ("..." with escapes).
std::string json_string(std::string_view s);

// The fields of one message, without the role prefix.
std::string format_entry(const TraceEntry& e);

class LineTracer final : public Tracer {
public:
    // prefix: "client" or "server 127.0.0.1:40123"
    LineTracer(TraceSink& sink, std::string prefix) : sink_(sink), prefix_(std::move(prefix)) {}
    void on_message(const TraceEntry& e) noexcept override;
    void on_fault(Err e, bool fatal) noexcept override;

private:
    TraceSink& sink_;
    std::string prefix_;
};

}  // namespace lockstep::cli
