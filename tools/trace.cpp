// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — trace lines (see trace.hpp).
#include "trace.hpp"

#include <fmt/format.h>

#include "cli.hpp"

namespace lockstep::cli {

void TraceSink::line(const std::string& s) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(s.data(), 1, s.size(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
}

std::string format_entry(const TraceEntry& e) {
    // The seed's spelling, padded so the fields line up.
    std::string s = fmt::format("{} {:<16} seq=0x{:08x}", e.sent ? "snd" : "rcv", msg_type_name(e.type), e.seq);
    const bool initial_hello = e.type == MsgType::hello && e.epoch == 0;  // carries no ack
    // A handshake message resent byte for byte comes without its ack and ttl.
    const bool bare_resend = e.retransmission && e.ttl == 0;
    if (!initial_hello && !bare_resend) s += fmt::format(" ack=0x{:08x}", e.ack);
    if (!bare_resend) s += fmt::format(" ttl={}", e.ttl);
    if (e.has_nonce) s += fmt::format(" nonce=0x{:08x}", e.nonce);
    if (e.type == MsgType::data_request || e.type == MsgType::data_response) s += fmt::format(" data={}", e.data_len);
    if (e.type == MsgType::close) s += fmt::format(" reason={}", reason_name(e.reason));
    s += fmt::format(" epoch={} len={}", e.epoch, e.wire_len);
    if (e.retransmission) s += " (resent)";
    return s;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c >= 0x7f) {
            out += fmt::format("\\u{:04x}", c);
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

namespace {
std::string json_entry(const std::string& who, const TraceEntry& e) {
    std::string s = fmt::format(R"({{"ts":{},"kind":"trace","who":{},"dir":"{}","type":{},"seq":{},"ack":{},"ttl":{})",
                                unix_ms(), json_string(who), e.sent ? "snd" : "rcv", json_string(msg_type_name(e.type)),
                                e.seq, e.ack, e.ttl);
    if (e.has_nonce) s += fmt::format(R"(,"nonce":{})", e.nonce);
    if (e.type == MsgType::data_request || e.type == MsgType::data_response) s += fmt::format(R"(,"data":{})", e.data_len);
    if (e.type == MsgType::close) s += fmt::format(R"(,"reason":{})", json_string(reason_name(e.reason)));
    return s + fmt::format(R"(,"epoch":{},"len":{},"resent":{}}})", e.epoch, e.wire_len, e.retransmission);
}
}  // namespace

void LineTracer::on_message(const TraceEntry& e) noexcept {
    try {
        sink_.line(sink_.json() ? json_entry(prefix_, e) : fmt::format("[{}] {}", prefix_, format_entry(e)));
    } catch (...) {
        // Out of memory while tracing: drop the line, never the connection.
    }
}

void LineTracer::on_fault(Err e, bool fatal) noexcept {
    try {
        sink_.line(sink_.json() ? fmt::format(R"({{"ts":{},"kind":"fault","who":{},"error":{},"fatal":{}}})", unix_ms(),
                                              json_string(prefix_), json_string(err_name(e)), fatal)
                                : fmt::format("[{}] reject: {} ({})", prefix_, err_name(e), fatal ? "fatal" : "tolerated"));
    } catch (...) {
    }
}

}  // namespace lockstep::cli
