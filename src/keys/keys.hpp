// SPDX-License-Identifier: Apache-2.0
// lockstep — the key schedule and the transcript hash.
//
// How this works (spec: PROTOCOL.md §5): a TLS 1.3-style HKDF-SHA-256 schedule.
//   early   = Extract(0, psk or 0^32)            -> s0 MAC keys for HELLO / HELLO ACK
//   hs      = Extract(Derive(early,"derived"), ecdhe or 0^32)
//                                                -> c/s handshake traffic secrets (th2)
//   master0 = Extract(Derive(hs,"derived"), 0^32) -> c/s application secrets (th at ACK)
//   master(n+1) = Extract(Derive(master(n),"rekey"), ecdhe(n+1) or 0^32)
// Each stage is a move-only type; deriving the next stage consumes the previous
// one, so an earlier secret cannot be used once the schedule has moved on.
// The transcript hash is a chain: th = SHA-256(th || item) for each item.
#pragma once

#include <array>

#include "common/bytes.hpp"
#include "lockstep/crypto.hpp"
#include "lockstep/types.hpp"

namespace lockstep::keys {

inline constexpr std::size_t kHashLen = 32;
using Digest = std::array<std::uint8_t, kHashLen>;
using Secret32 = Secret<kHashLen>;

// HKDF-Expand-Label: info = u16 len || u8 n || "lockstep1 " label || u8 m || context
// (context: empty or a transcript hash, at most kHashLen bytes; longer: Err::invalid_argument).
Status expand_label(crypto::Provider& p, ConstBytes secret, const char* label, ConstBytes context,
                    Bytes out) noexcept;
// Derive-Secret(secret, label, th) = Expand-Label(secret, label, th, 32).
Status derive_secret(crypto::Provider& p, ConstBytes secret, const char* label, ConstBytes th,
                     Secret32& out) noexcept;

class Transcript {
public:
    Transcript() noexcept;  // th0 = SHA-256("lockstep v1 transcript") (precomputed)
    Status append(crypto::Provider& p, ConstBytes item) noexcept;
    const Digest& hash() const noexcept { return th_; }
    ConstBytes span() const noexcept { return {th_.data(), th_.size()}; }

private:
    Digest th_;
};

struct EarlySecret {
    Secret32 s;
};
struct HandshakeSecret {
    Secret32 s;
};
struct MasterSecret {
    Secret32 s;
};

Result<EarlySecret> early_secret(crypto::Provider& p, ConstBytes psk) noexcept;
// MAC keys for HELLO ("c hello mac") and HELLO ACK ("s hello mac").
Status hello_mac_key(crypto::Provider& p, const EarlySecret& e, Role sender, Secret32& out) noexcept;
Result<HandshakeSecret> handshake_secret(crypto::Provider& p, EarlySecret&& e, ConstBytes ecdhe) noexcept;
Result<MasterSecret> master_secret(crypto::Provider& p, HandshakeSecret&& hs) noexcept;
Result<MasterSecret> next_epoch(crypto::Provider& p, MasterSecret&& m, ConstBytes ecdhe) noexcept;

// Every handshake MAC (s0 MACs, finished) is HMAC-SHA-256 truncated to its
// first kMacLen bytes (128 bits; RFC 2104 §5).
inline constexpr std::size_t kMacLen = 16;
Status mac(crypto::Provider& p, ConstBytes key, ConstBytes th, Bytes out) noexcept;  // out: kMacLen bytes

// Finished MAC: mac(Expand-Label(traffic_secret, "finished", "", 32), th).
Status finished_mac(crypto::Provider& p, ConstBytes traffic_secret, ConstBytes th, Bytes out) noexcept;

// Context strings of the transcript signatures. spec: PROTOCOL.md §5.4
inline constexpr char kServerSigContext[] = "lockstep v1 server signature";
inline constexpr char kClientSigContext[] = "lockstep v1 client signature";
// The signed message: context || 0x00 || th. `out` must hold 64 bytes.
// The connection id of an epoch: Expand-Label(traffic_secret, "cid", "", 8),
// from the client's traffic secret c_ap(n). spec: PROTOCOL.md §6.9
Status connection_id(crypto::Provider& p, ConstBytes traffic_secret, ConnectionId& out) noexcept;

ConstBytes signed_content(const char* context, ConstBytes th, Bytes out) noexcept;

}  // namespace lockstep::keys
