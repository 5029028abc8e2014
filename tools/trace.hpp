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
#include <string>

#include "lockstep/engine.hpp"

namespace lockstep::cli {

// Where trace lines go; whole lines are written under a lock, so lines from
// several connections (server threads, or the demo's two ends) never interleave.
class TraceSink {
public:
    explicit TraceSink(std::FILE* out) : out_(out) {}
    void line(const std::string& s) noexcept;

private:
    std::FILE* out_;
    std::mutex mu_;
};

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
