// SPDX-License-Identifier: Apache-2.0
// lockstep — record protection: seal/open, record numbers, replay window.
//
// How this works (spec: PROTOCOL.md §6.4): each direction of each epoch has its
// own key, IV (and, in the seed suite, an HMAC-SHA-512 key). The AEAD nonce is
// the IV XOR the 32-bit record number, right-aligned, as in TLS 1.3. The sender
// numbers records 0, 1, 2, ... and refuses to go past the hard limit, so a nonce
// never repeats under one key. The receiver accepts each record number once,
// within a 64-record window (reordering on datagrams), and only after the tag
// verified does it mark the number as seen.
#pragma once

#include "common/bytes.hpp"
#include "lockstep/config.hpp"
#include "lockstep/crypto.hpp"
#include "lockstep/types.hpp"
#include "wire/wire.hpp"

namespace lockstep::record {

struct DirectionKeys;

inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kIvLen = 12;
inline constexpr std::size_t kEtmKeyLen = 64;
// Hard limit: never seal a record number at or past it (nonce space end). The
// suites' record limits (key_limits) lie at or below it; half of one is the soft
// limit at which the server re-keys.
inline constexpr std::uint32_t kRnHardLimit = 0xfffffff0u;

// The per-key limits of a suite, lowered by the configured ones (nonzero
// fields of `lower`, powers of two). spec: PROTOCOL.md §6.7, §11.6
//  * AES-256-GCM (suites 1 and 3): 2^24 records (TLS 1.3's 2^24.5 full-size
//    records, rounded down), 2^38 bytes (2^24 records of 2^14 bytes);
//  * ChaCha20-Poly1305: the record-number space (kRnHardLimit), no byte limit;
//  * every suite: 2^32 - 1 failed authentications per receive key (below the
//    AEADs' integrity limits: 2^52 AES-GCM, 2^36 ChaCha20-Poly1305).
// The soft limit (the server re-keys) is half of each.
struct Limits {
    std::uint64_t records = 0, bytes = 0, failed_opens = 0;
};
Limits key_limits(Suite s, const KeyLimits& lower) noexcept;
inline constexpr std::uint64_t soft(std::uint64_t limit) noexcept { return limit / 2; }
// May k seal one more record of `len` bytes, `epoch_bytes` already sealed or
// opened this epoch? A closing message (CLOSE, CLOSE ACK, CLOSED WITHOUT ACK)
// may use a small reserve past the limits, so a connection at its limit can
// still say why it ends.
inline constexpr std::uint64_t kCloseReserveRecords = 8;
inline constexpr std::uint64_t kCloseReserveBytes = 8 * 1024;
Status may_seal(const DirectionKeys& k, const Limits& l, std::uint64_t epoch_bytes, std::size_t len,
                bool closing) noexcept;

crypto::Aead suite_aead(Suite s) noexcept;
bool suite_etm(Suite s) noexcept;
bool suite_known(std::uint8_t v) noexcept;
// Bytes a sealed payload adds to the plaintext (tag, plus HMAC in the seed suite).
std::size_t suite_overhead(Suite s) noexcept;

class ReplayWindow {
public:
    // Err::replay if rn was seen or is older than the window.
    Status check(std::uint32_t rn) const noexcept;
    void mark(std::uint32_t rn) noexcept;
    // Forget a number marked by the last open (tolerant policy: a record refused
    // for its sequence number may arrive again as a retransmission).
    void unmark(std::uint32_t rn) noexcept;
    std::uint32_t highest() const noexcept { return top_; }

private:
    bool any_ = false;
    std::uint32_t top_ = 0;
    std::uint64_t bits_ = 0;  // bit i: top_ - i seen
};

// Keys of one direction of one epoch. Wiped on destruction.
struct DirectionKeys {
    Suite suite = Suite::aes256gcm;
    std::uint8_t epoch = 0;
    bool valid = false;
    Secret<kKeyLen> key;
    Secret<kIvLen> iv;
    ConnectionId cid{};  // not secret: the datagram framing's id of these keys (spec §6.9)
    Secret<kEtmKeyLen> etm;
    std::uint32_t next_rn = 0;  // sender side
    std::uint32_t failed = 0;   // receiver side: records that failed authentication (saturates)
    ReplayWindow window;        // receiver side
    void wipe() noexcept;
    // Moves wipe the source (Secret); out of line, so every layer shares one copy.
    DirectionKeys() noexcept = default;
    DirectionKeys(DirectionKeys&& o) noexcept;
    DirectionKeys& operator=(DirectionKeys&& o) noexcept;
    DirectionKeys(const DirectionKeys&) = delete;
    DirectionKeys& operator=(const DirectionKeys&) = delete;
    ~DirectionKeys() = default;
};

// Derive key, IV (and HMAC key) from a traffic secret. spec: PROTOCOL.md §5.3
Status derive(crypto::Provider& p, Suite suite, std::uint8_t epoch, ConstBytes traffic_secret,
              DirectionKeys& out) noexcept;

// Low level: protect pt with explicit record number and AAD. out = ct || tag (|| hmac).
Status seal_payload(crypto::Provider& p, const DirectionKeys& k, std::uint32_t rn, ConstBytes aad,
                    ConstBytes pt, Bytes out) noexcept;
// Low level: verify and decrypt. out.size() == payload.size() - suite_overhead.
Status open_payload(crypto::Provider& p, const DirectionKeys& k, std::uint32_t rn, ConstBytes aad,
                    ConstBytes payload, Bytes out) noexcept;

// The one record sealer: header + sealed inner, written to out. inner may sit
// where its ciphertext goes (out + kRecordHeaderLen: sealing in place, as the
// engine does). Uses and advances k.next_rn; refuses at the hard limit
// (Err::limit_exceeded). Returns the record length written to out.
Result<std::size_t> seal_record(crypto::Provider& p, DirectionKeys& k, ConstBytes inner, Bytes out) noexcept;
// Opens a record already decoded by wire::decode_record. Checks the epoch
// (Err::old_epoch), the replay window (Err::replay), the tag (Err::bad_mac: counted
// in k.failed), then marks the record number seen. Returns the plaintext view inside out.
Result<ConstBytes> open_record(crypto::Provider& p, DirectionKeys& k, const wire::RecordView& rec,
                               Bytes out) noexcept;

}  // namespace lockstep::record
