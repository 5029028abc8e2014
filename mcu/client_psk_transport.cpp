// SPDX-License-Identifier: Apache-2.0
// The client-only image's "radio": its own translation unit (no LTO), so the
// compiler cannot see what arrives and must keep every receive path a real
// client could take. There is no server on qemu (this image has no server
// role); once the HELLO has gone out, the "peer" plays a fixed script:
//   1. a malformed HELLO ACK (truncated after its version byte), then
//   2. a clear CLOSE(no_common_parameters), as a server that shares no mode would send,
//      answering the HELLO's seq (a clear CLOSE counts only then, spec §6.6)
// and then stays silent.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mcu {
std::size_t g_tx_messages = 0, g_tx_bytes = 0, g_rx_messages = 0;

namespace {
const std::uint8_t kBadHelloAck[] = {0x02, 0x01, 0x01};
// frame 0x08, reason 0x0d, seq, ack (= the HELLO's seq, filled in), ttl (spec: PROTOCOL.md §6.6)
std::uint8_t g_clear_close[] = {0x08, 0x0d, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
constexpr std::size_t kCloseAckAt = 6;

// The HELLO's seq (spec §6.2): after the three lists, flags, kx, the share and
// (no share) the random.
void remember_hello_seq(const std::uint8_t* m, std::size_t len) noexcept {
    std::size_t at = 1;
    for (int list = 0; list < 3; ++list) {
        if (at >= len) return;
        at += 1 + m[at];
    }
    at += 2;  // flags, kx
    if (at + 2 > len) return;
    const std::size_t k = static_cast<std::size_t>(m[at] << 8 | m[at + 1]);
    at += 2 + k + (k == 0 ? 16 : 0);
    if (m[0] != 0x01 || at + 4 > len) return;
    std::memcpy(g_clear_close + kCloseAckAt, m + at, 4);
}
}  // namespace

void transport_send(const std::uint8_t* msg, std::size_t len) noexcept {
    if (g_tx_messages == 0) remember_hello_seq(msg, len);
    ++g_tx_messages;
    g_tx_bytes += len;
}

std::size_t transport_recv(std::uint8_t* buf, std::size_t cap) noexcept {
    if (g_tx_messages == 0) return 0;
    const std::uint8_t* msg = nullptr;
    std::size_t len = 0;
    if (g_rx_messages == 0) {
        msg = kBadHelloAck;
        len = sizeof kBadHelloAck;
    } else if (g_rx_messages == 1) {
        msg = g_clear_close;
        len = sizeof g_clear_close;
    }
    if (msg == nullptr || len > cap) return 0;
    std::memcpy(buf, msg, len);
    ++g_rx_messages;
    return len;
}
}  // namespace mcu
