// SPDX-License-Identifier: Apache-2.0
// lockstep — engine configuration. Defaults are the safe choice; anything weaker is opt-in
// and named so (spec: PROTOCOL.md §10).
//
// Ownership: the Config is copied into the Engine, but every span and pointer in
// it (certificates, PSK, provider, signer, psk store) is borrowed and must outlive
// the Engine. Times are milliseconds of the caller's monotonic clock.
// spec: PROTOCOL.md §8 (timers), §5.1 (modes)
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

#include "lockstep/crypto.hpp"
#include "lockstep/export.h"
#include "lockstep/types.hpp"

namespace lockstep {

using std::chrono::milliseconds;

// Server side: finds the PSK for an identity sent in HELLO (empty span: unknown).
class LOCKSTEP_API PskStore {
public:
    virtual ~PskStore() = default;
    virtual std::span<const std::uint8_t> find(std::span<const std::uint8_t> identity) const noexcept = 0;
};

// Test and debugging aid ONLY: receives the secrets the key schedule derives
// (like an SSLKEYLOGFILE). It defeats the protocol's security; production
// configurations leave Config::insecure_key_log null. spec: PROTOCOL.md §14
class LOCKSTEP_API InsecureKeyLog {
public:
    virtual ~InsecureKeyLog() = default;
    virtual void on_secret(const char* label, std::uint32_t epoch, std::span<const std::uint8_t> value) noexcept = 0;
};

// Optional: certificates whose CA signature already verified, so that a peer
// that connects again costs one SHA-256 instead of a signature verification.
// The key is SHA-256(CA certificate || certificate), so an entry holds only for
// the exact bytes under the exact trust anchor. Only the engine adds entries,
// after the signature verified; issuer, role and validity dates are still
// checked on every handshake (spec: PROTOCOL.md §7.4). Like a Provider it is
// used from one thread at a time; net::Server gives each loop its own.
class LOCKSTEP_API CertCache {
public:
    using Digest = std::array<std::uint8_t, 32>;
    virtual ~CertCache() = default;
    virtual bool contains(const Digest& d) const noexcept = 0;
    virtual void insert(const Digest& d) noexcept = 0;
};

// A CertCache of the last N certificates verified (no heap; oldest replaced first).
template <std::size_t N>
class FixedCertCache final : public CertCache {
public:
    bool contains(const Digest& d) const noexcept override {
        for (std::size_t i = 0; i < count_; ++i)
            if (entries_[i] == d) return true;
        return false;
    }
    void insert(const Digest& d) noexcept override {
        if (contains(d)) return;
        entries_[next_] = d;
        next_ = (next_ + 1) % N;
        if (count_ < N) ++count_;
    }
    std::size_t size() const noexcept { return count_; }

private:
    std::array<Digest, N> entries_{};
    std::size_t count_ = 0, next_ = 0;
};

// Optional: certificates the operator revoked (a registry of devices, a deny
// list). Asked once the peer certificate's CA signature, issuer, role and dates
// verified; true refuses it as bad_certificate (spec: PROTOCOL.md §7.4). Called on
// the engine's thread during receive(); an implementation shared by several
// threads (net::Server's loops) must be thread-safe. It must not block long: it
// runs inside the handshake.
class CertPolicy {
public:
    virtual ~CertPolicy() = default;
    // serial: the certificate's; key_id: the first 8 bytes of SHA-256(alg || public key)
    // of its key (spec: PROTOCOL.md §7.2); subject: its subject.
    virtual bool revoked(std::uint64_t serial, std::span<const std::uint8_t, 8> key_id,
                         std::span<const std::uint8_t> subject) const noexcept = 0;
};

template <class T, std::size_t N>
struct Prefs {
    std::array<T, N> items{};
    std::uint8_t count = 0;
    constexpr Prefs() = default;
    constexpr Prefs(std::initializer_list<T> l) {
        for (T x : l)
            if (count < N) items[count++] = x;
    }
    constexpr bool contains(T x) const {
        for (std::uint8_t i = 0; i < count; ++i)
            if (items[i] == x) return true;
        return false;
    }
};

struct Timers {
    milliseconds ttl_lifetime{25'000};     // ttl = send time + this (R7); <= kMaxTtlLifetime
    milliseconds clock_skew{2'000};        // accepted when now <= ttl + skew
    milliseconds receive_timeout{45'000};  // nothing received (R9)
    // Tolerant policy: wait before RESEND LAST. Keep it below ttl_lifetime: a
    // handshake message is resent byte for byte and must not have expired.
    milliseconds resend_timeout{5'000};
    milliseconds close_timeout{45'000};    // no CLOSE ACK (R10)
    std::uint8_t max_resends = 3;          // RESEND LAST in a row (R7-R9)
    std::uint8_t max_close_retries = 3;    // CLOSE resent before CLOSED WITHOUT ACK (R10)
};

// Per-key limits (spec: PROTOCOL.md §6.7, §11.6). Each suite has its own;
// these lower them, as powers of two (0: the suite's own; a larger value does
// not raise it). At half of a limit the server re-keys; at the limit either
// side closes (limit_exceeded) rather than seal, open or accept forgeries past it.
struct KeyLimits {
    std::uint8_t records_log2 = 0;       // records sealed, or numbered by the peer, under one key
    std::uint8_t bytes_log2 = 0;         // record bytes sealed and opened under one epoch's keys
    std::uint8_t failed_opens_log2 = 0;  // records that failed authentication under one receive key
};

// The largest ttl_lifetime, and so how far ahead of the receiver's clock (plus
// clock_skew) a ttl may lie before it is refused (spec: PROTOCOL.md §8.3).
inline constexpr milliseconds kMaxTtlLifetime{600'000};

struct RekeyPolicy {
    std::uint32_t after_responses = 10;  // acknowledged DATA RESPONSEs per epoch (R4); 0 = never
    std::uint64_t after_bytes = 0;       // data bytes per epoch; 0 = off
    milliseconds after_time{0};          // epoch age; 0 = off
};

struct Config {
    Role role = Role::client;
    crypto::Provider* provider = nullptr;

    // Client: preference order. Server: the accepted set (order irrelevant: the
    // client's order decides; spec §5.5).
    Prefs<Mode, 4> modes{Mode::cert};
    Prefs<Suite, 3> suites{Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512};
    Prefs<std::uint8_t, 4> versions{kVersion1};

    Policy policy = Policy::transport_default;  // the Engine runs it as strict
    TtlMode ttl_mode = TtlMode::absolute;  // client's request; the server accepts either
    Timers timers{};
    RekeyPolicy rekey{};
    KeyLimits key_limits{};  // lower per-key limits than the suite's (0: the suite's)
    std::uint16_t pad_to = 0;  // pad record plaintexts to a multiple of this (0: off)
    // Server: before the client has proved its address (a record of its opened,
    // or Engine::set_address_validated), send at most this many times the bytes
    // received from it, retransmissions included (spec: PROTOCOL.md §8.6).
    // 0: no limit (TCP, where the connection itself proves the address).
    std::uint8_t amplification_limit = 0;
    // Client: send the HELLO padded to at least this many bytes (a cookie-bearing
    // HELLO, spec §6.8), so a server under an amplification limit can answer at
    // once. 0: no padding. An engine built without certificate modes accepts at
    // most detail::kMaxHelloPadToNoCert (384; Err::unsupported above).
    std::uint16_t hello_pad_to = 0;
    std::uint16_t max_data = 16384;  // largest request/response body, <= 16384

    // cert modes
    crypto::Signer* signer = nullptr;             // our private key
    std::span<const std::uint8_t> certificate;    // our certificate (wire encoding)
    // The trust anchor (self-signed CA certificate). Its self-signature is not
    // re-checked per handshake: load only a CA certificate you trust (the
    // lockstep CLI checks the self-signature once when it loads the file).
    std::span<const std::uint8_t> ca_certificate;
    // For devices without a real-time clock only: skip certificate validity dates.
    bool insecure_skip_cert_validity = false;
    // Client, cert modes: the server names (certificate subjects, compared byte
    // for byte) this client accepts, like a TLS host-name check. A server
    // certificate with any other subject is refused (bad_certificate) before
    // the client's certificate or signature is sent. Required whenever a cert
    // mode is offered, unless insecure_accept_any_server_name is set.
    std::span<const std::string_view> server_names;
    // Accept ANY server certificate this CA signed: every holder of a server
    // certificate of the CA can then impersonate the server and learn the
    // client's identity. Only for a CA that certifies exactly one server.
    bool insecure_accept_any_server_name = false;
    CertCache* cert_cache = nullptr;  // optional (see CertCache); borrowed
    const CertPolicy* cert_policy = nullptr;  // optional (see CertPolicy); borrowed

    // psk modes
    std::span<const std::uint8_t> psk;     // client: the PSK (16..64 bytes)
    std::span<const std::uint8_t> psk_id;  // client: its identity (1..64 bytes)
    const PskStore* psk_store = nullptr;   // server

    // Never set outside tests and test-vector generation (see InsecureKeyLog).
    InsecureKeyLog* insecure_key_log = nullptr;
};

}  // namespace lockstep
