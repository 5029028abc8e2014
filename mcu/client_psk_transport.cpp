// SPDX-License-Identifier: Apache-2.0
// The client-only image's "radio": its own translation unit (no LTO), so the
// compiler cannot see what arrives and must keep every receive path a real
// client could take. There is no server on qemu (this image has no server
// role); once the HELLO has gone out, the "peer" plays a fixed script:
//   1. a malformed HELLO ACK (truncated after its version byte), then
//   2. a clear CLOSE(no_common_parameters), as a server that shares no mode would send
// and then stays silent.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mcu {
std::size_t g_tx_messages = 0, g_tx_bytes = 0, g_rx_messages = 0;

namespace {
const std::uint8_t kBadHelloAck[] = {0x02, 0x01, 0x01};
// frame 0x08, reason 0x0d, seq, ack, ttl (spec: PROTOCOL.md §6.6)
const std::uint8_t kClearClose[] = {0x08, 0x0d, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
}  // namespace

void transport_send(const std::uint8_t* /*msg*/, std::size_t len) noexcept {
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
        msg = kClearClose;
        len = sizeof kClearClose;
    }
    if (msg == nullptr || len > cap) return 0;
    std::memcpy(buf, msg, len);
    ++g_rx_messages;
    return len;
}
}  // namespace mcu
