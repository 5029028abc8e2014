// SPDX-License-Identifier: Apache-2.0
// lockstep — the wire format: every message and the certificate, encode and decode.
//
// How this works: decoders take the received bytes and return structs whose
// spans point into those bytes (no copy, no heap). Every length read from the
// wire is checked against a published maximum before it is used, and every
// decoder insists that the input is consumed exactly (Err::trailing_bytes).
// Encoders write into a caller-owned Writer; MACs, signatures and encryption
// are added by the layers above, which know the keys. No crypto here.
// spec: PROTOCOL.md §6 (wire format), §7 (certificates)
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.hpp"
#include "lockstep/crypto.hpp"
#include "lockstep/types.hpp"

namespace lockstep::wire {

// First byte of every message on the wire.
enum class Frame : std::uint8_t {
    hello = 0x01,      // initial HELLO, in clear
    hello_ack = 0x02,  // initial HELLO ACK: clear part + sealed part
    cookie = 0x03,        // server: prove your address first (clear, stateless)
    cookie_hello = 0x04,  // client: a HELLO with a cookie and/or padding in front (clear)
    close = 0x08,      // CLOSE before any key exists (unauthenticated)
    record = 0x17,     // protected record; the message type is inside
    cid_record = 0x19,  // datagrams, client -> server: a record behind a connection id
};

inline constexpr std::size_t kRandomLen = 16;
inline constexpr std::size_t kMacLen = 16;       // s0 MACs: HMAC-SHA-256, first 16 bytes
inline constexpr std::size_t kFinishedLen = 16;  // finished: HMAC-SHA-256, first 16 bytes
inline constexpr std::size_t kMaxListLen = 8;
inline constexpr std::size_t kMaxModes = 4;
inline constexpr std::size_t kMaxPskId = 64;
inline constexpr std::size_t kMaxShare = 1280;   // room for a hybrid X25519+ML-KEM-768 share
inline constexpr std::size_t kMaxCert = 1024;
inline constexpr std::size_t kMaxSubject = 64;
inline constexpr std::size_t kMaxData = 16384;   // protocol maximum data per message
inline constexpr std::size_t kMaxPadding = 255;
inline constexpr std::size_t kRecordHeaderLen = 6;  // frame, epoch, record number
inline constexpr std::size_t kInnerHeaderLen = 15;  // type, seq, ack, ttl, body length
inline constexpr std::size_t kEtmTagLen = 64;       // HMAC-SHA-512 in the seed suite
// Largest record plaintext and largest message on the wire.
inline constexpr std::size_t kMaxInner = kInnerHeaderLen + kMaxData + kMaxPadding;
inline constexpr std::size_t kMaxRecord = kRecordHeaderLen + kMaxInner + crypto::kAeadTagLen + kEtmTagLen;

using Random = std::array<std::uint8_t, kRandomLen>;
// HELLO, HELLO ACK and their re-key forms carry a random only without a key
// share (psk-only); a fresh share is the sender's randomness.
constexpr std::size_t random_len(ConstBytes share) noexcept { return share.empty() ? kRandomLen : 0; }

// A short list of one-byte identifiers (versions, suites, modes).
struct IdList {
    std::array<std::uint8_t, kMaxListLen> v{};
    std::uint8_t n = 0;
    bool contains(std::uint8_t x) const noexcept;
    bool push(std::uint8_t x) noexcept;
    ConstBytes span() const noexcept { return {v.data(), n}; }
    friend bool operator==(const IdList& a, const IdList& b) noexcept;
};

// ---- HELLO (initial, C->S, clear). spec: PROTOCOL.md §6.2
inline constexpr std::uint8_t kFlagRelativeTtl = 0x01;
struct Hello {
    IdList versions, suites, modes;
    std::uint8_t flags = 0;
    Kx kx = Kx::x25519;
    ConstBytes share;
    Random random{};  // on the wire only when share is empty (psk-only): a fresh share is the randomness
    std::uint32_t seq = 0;
    std::uint32_t ttl = 0;
    ConstBytes psk_id;  // empty: no PSK offered; then no MAC follows
    ConstBytes mac;     // decode only: kMacLen bytes when psk_id is not empty
    ConstBytes body;    // decode only: every byte before the MAC
};
void encode_hello_body(const Hello& h, Writer& w) noexcept;  // without MAC
LOCKSTEP_API Result<Hello> decode_hello(ConstBytes in) noexcept;  // exported: see below

// ---- HELLO ACK (initial, S->C). spec: PROTOCOL.md §6.3
struct HelloAck {
    std::uint8_t version = kVersion1;
    Suite suite = Suite::aes256gcm;
    Mode mode = Mode::cert;
    std::uint8_t flags = 0;
    IdList versions, suites, modes;  // the server's own supported lists
    Kx kx = Kx::x25519;
    ConstBytes share;
    Random random{};  // on the wire only when share is empty (psk-only): a fresh share is the randomness
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint32_t ttl = 0;
    ConstBytes mac;     // decode only: present iff mode uses a PSK
    ConstBytes sealed;  // decode only: AEAD ciphertext and tag of HelloAckAuth
    ConstBytes clear;   // decode only: frame byte through ttl (transcript item)
    ConstBytes aad;     // decode only: frame byte through the sealed length field
};
// Writes frame..ttl; the caller appends the MAC (if any) and the sealed part.
void encode_hello_ack_clear(const HelloAck& h, Writer& w) noexcept;
Result<HelloAck> decode_hello_ack(ConstBytes in) noexcept;

// Sealed part of HELLO ACK and body of ACK: certificate, signature, finished.
struct Auth {
    std::uint32_t nonce = 0;  // ACK only
    ConstBytes cert;          // empty in PSK modes and in re-key ACKs
    ConstBytes sig;           // empty in PSK modes
    ConstBytes finished;      // kFinishedLen bytes
};
// Where the authentication tail of a message goes: vec16(signature) and the
// finished MAC, reserved by the layout encoders below and filled afterwards
// (the handshake signs and MACs the transcript up to each field, handshake/auth.hpp).
struct AuthSlots {
    Bytes sig_field;  // u16 length (written) || sig_len bytes to fill
    Bytes finished;   // kFinishedLen bytes to fill
};
// The layout of each message with an authentication tail: the one encoder of
// these messages. The engine fills the slots; encode_* with values (tests,
// fuzzers) copy sig and finished into them.
AuthSlots layout_hello_ack_auth(ConstBytes cert, std::size_t sig_len, Writer& w) noexcept;
AuthSlots layout_ack_body(std::uint32_t nonce, ConstBytes cert, std::size_t sig_len, Writer& w) noexcept;
void encode_hello_ack_auth(const Auth& a, Writer& w) noexcept;
Result<Auth> decode_hello_ack_auth(ConstBytes in) noexcept;
void encode_ack_body(const Auth& a, Writer& w) noexcept;
Result<Auth> decode_ack_body(ConstBytes in) noexcept;

// ---- Clear CLOSE (before keys). spec: PROTOCOL.md §6.6
struct ClearClose {
    Reason reason = Reason::normal;
    std::uint32_t seq = 0, ack = 0, ttl = 0;
};
void encode_clear_close(const ClearClose& c, Writer& w) noexcept;
Result<ClearClose> decode_clear_close(ConstBytes in) noexcept;

// ---- COOKIE and the cookie-bearing HELLO (address proof). spec: PROTOCOL.md §6.8
// The datagram front end of liblockstep-net reads HELLOs and writes COOKIEs and
// connection ids before any engine exists, so decode_hello, encode_cookie,
// decode_cookie_hello, encode_cid_head and decode_cid_record are exported
// (LOCKSTEP_API) from a shared liblockstep; see "liblockstep-net" in src/CMakeLists.txt.
inline constexpr std::size_t kMaxCookie = 64;
inline constexpr std::size_t kMaxHelloPadding = 1200;
struct Cookie {
    std::uint32_t ack = 0;  // the HELLO's seq (c0)
    ConstBytes cookie;      // 1..kMaxCookie bytes, opaque to the client
};
LOCKSTEP_API void encode_cookie(const Cookie& c, Writer& w) noexcept;
Result<Cookie> decode_cookie(ConstBytes in) noexcept;
struct CookieHello {
    ConstBytes cookie;        // 0..kMaxCookie bytes
    std::size_t padding = 0;  // zero bytes, 0..kMaxHelloPadding
    ConstBytes hello;         // the HELLO (frame 0x01 ...), still to be decoded
};
// Writes the envelope's head: frame, vec8 cookie, u16 padding length, the zero padding.
void encode_cookie_hello_head(ConstBytes cookie, std::size_t padding, Writer& w) noexcept;
LOCKSTEP_API Result<CookieHello> decode_cookie_hello(ConstBytes in) noexcept;

// ---- A record behind a connection id (datagrams, client -> server). spec: PROTOCOL.md §6.9
inline constexpr std::size_t kCidHeadLen = 1 + kConnectionIdLen;
struct CidRecord {
    ConnectionId cid{};
    ConstBytes record;  // the whole record (frame 0x17 ...), still to be opened
};
// Writes the head: frame 0x19, the 8-byte id; the record follows it.
LOCKSTEP_API void encode_cid_head(const ConnectionId& cid, Writer& w) noexcept;
LOCKSTEP_API Result<CidRecord> decode_cid_record(ConstBytes in) noexcept;

// ---- Protected record. spec: PROTOCOL.md §6.4
struct RecordHeader {
    std::uint8_t epoch = 0;  // epoch number modulo 256
    std::uint32_t rn = 0;    // record number in this epoch and direction
};
void encode_record_header(const RecordHeader& h, Writer& w) noexcept;
struct RecordView {
    RecordHeader header;
    ConstBytes aad;      // the header bytes
    ConstBytes payload;  // ciphertext || tag(s)
};
Result<RecordView> decode_record(ConstBytes in, std::size_t min_payload) noexcept;

// Record plaintext: type, seq, ack, ttl, body, zero padding. spec: PROTOCOL.md §6.5
struct Inner {
    MsgType type = MsgType::data_request;
    std::uint32_t seq = 0, ack = 0, ttl = 0;
    ConstBytes body;
    ConstBytes raw;  // decode only: type through the end of body, no padding (transcript items)
};
void encode_inner(const Inner& m, std::size_t padding, Writer& w) noexcept;
Result<Inner> decode_inner(ConstBytes in) noexcept;
// The transcript form of a record message: type, seq, ack, ttl (13 bytes).
void encode_inner_prefix(const Inner& m, Writer& w) noexcept;

// Bodies of the record messages.
struct RekeyHello {
    Kx kx = Kx::x25519;
    ConstBytes share;
    Random random{};  // on the wire only when share is empty (psk-only): a fresh share is the randomness
};
void encode_rekey_hello(const RekeyHello& h, Writer& w) noexcept;
Result<RekeyHello> decode_rekey_hello(ConstBytes body) noexcept;

struct RekeyHelloAck {
    ConstBytes share;
    Random random{};  // on the wire only when share is empty (psk-only): a fresh share is the randomness
    ConstBytes sig;       // empty in PSK modes
    ConstBytes finished;  // kFinishedLen
};
// The layout: share (or random) — the transcript item before the signature —
// then the authentication tail's slots.
AuthSlots layout_rekey_hello_ack(const RekeyHelloAck& h, std::size_t sig_len, Writer& w) noexcept;
void encode_rekey_hello_ack(const RekeyHelloAck& h, Writer& w) noexcept;
Result<RekeyHelloAck> decode_rekey_hello_ack(ConstBytes body) noexcept;

Result<std::uint32_t> decode_nonce_body(ConstBytes body) noexcept;  // DATA ACK
Result<Reason> decode_close_body(ConstBytes body) noexcept;         // CLOSE
Status decode_empty_body(ConstBytes body) noexcept;  // RESEND LAST, CLOSE ACK, CLOSED WITHOUT ACK

// ---- Compact certificate. spec: PROTOCOL.md §7
inline constexpr std::uint8_t kCertVersion = 1;
inline constexpr std::size_t kKeyIdLen = 8;
using KeyId = std::array<std::uint8_t, kKeyIdLen>;
struct Cert {
    CertRole role = CertRole::client;
    crypto::SigAlg key_alg = crypto::SigAlg::ed25519;
    ConstBytes subject;
    std::uint64_t serial = 0;
    std::uint32_t not_before = 0;  // Unix seconds
    std::uint32_t not_after = 0;
    KeyId issuer{};
    ConstBytes pubkey;
    crypto::SigAlg sig_alg = crypto::SigAlg::ed25519;
    ConstBytes signature;
    ConstBytes tbs;  // decode only: every byte the CA signature covers
};
void encode_cert_tbs(const Cert& c, Writer& w) noexcept;  // version..sig_alg
void encode_cert(const Cert& c, Writer& w) noexcept;      // tbs + signature
Result<Cert> decode_cert(ConstBytes in) noexcept;
// Context string prepended to the tbs bytes when signing a certificate.
inline constexpr char kCertSigContext[] = "lockstep v1 certificate";

}  // namespace lockstep::wire
