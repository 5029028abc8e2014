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
#include "lockstep/crypto.hpp"
#include "lockstep/types.hpp"
#include "wire/wire.hpp"

namespace lockstep::record {

inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kIvLen = 12;
inline constexpr std::size_t kEtmKeyLen = 64;
// Soft limit: ask for a re-key. Hard limit: refuse to seal (nonce space end).
inline constexpr std::uint32_t kRnSoftLimit = 0x80000000u;
inline constexpr std::uint32_t kRnHardLimit = 0xfffffff0u;

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
    Secret<kEtmKeyLen> etm;
    std::uint32_t next_rn = 0;  // sender side
    ReplayWindow window;        // receiver side
    void wipe() noexcept;
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
// (Err::old_epoch), the replay window (Err::replay), the tag (Err::bad_mac), then
// marks the record number seen. Returns the plaintext view inside out.
Result<ConstBytes> open_record(crypto::Provider& p, DirectionKeys& k, const wire::RecordView& rec,
                               Bytes out) noexcept;

}  // namespace lockstep::record
