// SPDX-License-Identifier: Apache-2.0
// lockstep — the connection as the handshake layer sees it.
//
// How this works: the handshake and re-key messages (src/handshake) need part
// of a connection's state (keys, the negotiated mode and suite, the peer's
// identity, the epoch) and a few services of the session layer above them
// (keep and send a message, close on a fault, the ttl clock, events). Link
// holds exactly that state and declares those services; the session layer's
// connection (src/session/conn.hpp) derives from it and implements them. So
// the handshake includes nothing above itself, and what it may touch is
// listed here: everything else of a connection (transmit queue, kept
// messages, timers, replay memory, cookies, the amplification budget) is
// private to the session layer.
#pragma once

#include <array>
#include <cstdint>

#include "keys/keys.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/features.hpp"
#include "record/record.hpp"
#include "wire/wire.hpp"

namespace lockstep::handshake {

struct KeyState {
    Secret<crypto::kX25519Len> x_priv;                     // our ephemeral X25519 key (current handshake)
    std::array<std::uint8_t, crypto::kX25519Len> x_pub{};  // its public half (lets the provider skip recomputing it)
    bool have_x = false;
    keys::Transcript th;
    keys::MasterSecret master;
    // PSK modes: Expand-Label(early, "rekey psk", "", 32), mixed into every
    // re-key so that master(n) alone does not give master(n+1) (spec §5.6).
    keys::Secret32 rekey_psk;
    keys::Secret32 c_hs, s_hs;     // handshake (or re-key) traffic secrets: finished keys
    record::DirectionKeys tx, rx;  // current epoch
    record::DirectionKeys next_tx;  // re-key in progress
    // The second receive key set, one of (told apart by the epoch byte):
    //  * the next epoch's, during a re-key (client: from its HELLO ACK to the
    //    ACK; server: inside on_rekey_hello_ack), other_is_prev = false;
    //  * server, after a re-key: the previous epoch's, until the client's first
    //    record under the new keys (a request sent before our ACK arrived is
    //    not lost), other_is_prev = true.
    // Never both: the server derives next keys only from a HELLO ACK opened
    // under the current keys, and opening a current-epoch record drops the
    // previous ones (the session's receive).
    record::DirectionKeys other_rx;
    bool other_is_prev = false;
    // With other_is_prev: the previous key opens only records numbered below
    // this (sealed before the client's re-key HELLO ACK), or RESEND LAST, and
    // is dropped after one such record or a timer (spec §5.6 key handling).
    std::uint32_t prev_rn_limit = 0;
    // Record bytes sealed and opened since the last re-key (both directions:
    // conservative for each key's byte limit, spec §6.7).
    std::uint64_t key_bytes = 0;
    wire::IdList peer_versions, peer_suites, peer_modes;  // server: from HELLO (downgrade check)
    // Server: the HELLO; client: the HELLO ACK it accepted. Identifies a resent copy (whole frame).
    std::array<std::uint8_t, 32> hello_digest{};
    void wipe_handshake() noexcept {
        x_priv.wipe();
        have_x = false;
        c_hs.wipe();
        s_hs.wipe();
    }
    void wipe_all() noexcept {
        wipe_handshake();
        master.s.wipe();
        rekey_psk.wipe();
        tx.wipe();
        rx.wipe();
        next_tx.wipe();
        other_rx.wipe();
    }
};

class Link {
public:
    explicit Link(const Config& cfg) noexcept : cfg_(cfg) {}
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // ---- state the handshake reads and writes (the session reads it too)
    Config cfg_;
    KeyState keys_;
    State state_ = State::start;
    Mode mode_ = Mode::cert;
    Suite suite_ = Suite::aes256gcm;
    bool relative_ttl_ = false;
    bool peer_proved_ = false;          // the handshake peer's finished verified (initial handshake)
    bool awaiting_reply_ = false;       // our last message wants a reply (reply timer)
    bool request_outstanding_ = false;  // client: a request crosses a re-key
    std::uint32_t epoch_ = 0;
    std::uint32_t tx_seq_ = 0;  // our newest message's sequence number (what a reply acks)
    std::uint32_t rx_seq_ = 0;  // the peer's newest accepted (what our messages ack)
    Instant epoch_start_{};
    std::uint32_t responses_in_epoch_ = 0;
    std::uint64_t bytes_in_epoch_ = 0;
    Stats stats_{};
    std::size_t inner_cap_ = 0;  // bytes of the receive buffer (scratch()) and the stash
    // The peer certificate's subject and key: only with certificate modes
    // (detail::kPeerSubjectCap, kPeerKeyCap; 1 byte each without).
    std::uint8_t peer_subject_[detail::kPeerSubjectCap] = {};
    std::size_t peer_subject_len_ = 0;
    std::uint8_t peer_key_[detail::kPeerKeyCap] = {};
    std::uint8_t peer_key_alg_ = 0;

    crypto::Provider& provider() const noexcept { return *cfg_.provider; }
    // The role, folded to a constant when one role is compiled (features.hpp).
    bool client() const noexcept { return features::is_client(cfg_.role); }
    bool server() const noexcept { return features::is_server(cfg_.role); }
    void keylog(const char* label, ConstBytes v) const noexcept {
        if constexpr (features::kInsecureKeyLog)
            if (cfg_.insecure_key_log) cfg_.insecure_key_log->on_secret(label, epoch_, v);
    }
    // The per-key limits of the negotiated suite under this configuration (spec §6.7).
    record::Limits limits() const noexcept { return record::key_limits(suite_, cfg_.key_limits); }
    // Every record we send: the inner message (which may sit at out +
    // kRecordHeaderLen, sealed in place) sealed under k into out, within the
    // per-key limits (Err::limit_exceeded; closing: a CLOSE, CLOSE ACK or
    // CLOSED WITHOUT ACK may use the reserve) and counted toward them.
    Result<std::size_t> seal(record::DirectionKeys& k, ConstBytes inner, Bytes out, bool closing) noexcept {
        const std::size_t total = wire::kRecordHeaderLen + inner.size() + record::suite_overhead(k.suite);
        LS_TRY(record::may_seal(k, limits(), keys_.key_bytes, total, closing));
        keys_.key_bytes += total;
        return record::seal_record(provider(), k, inner, out);
    }
    // Seal, in place, the record whose plaintext (inner_len bytes) was written
    // at slot + kRecordHeaderLen of a new_slot() under the current send keys.
    Result<std::size_t> seal_slot(std::uint8_t* slot, std::size_t inner_len) noexcept {
        return seal(keys_.tx, {slot + wire::kRecordHeaderLen, inner_len}, {slot, kept_cap()}, false);
    }
    void trace_received(const wire::Inner& m, std::size_t wire_len) noexcept {
        if constexpr (features::kTrace) trace_in(m, wire_len);
    }

    // ---- services of the session layer
    // Declared here, defined by the session layer (src/session/link.cpp) for
    // its connection, the one class derived from Link: plain calls, no vtable,
    // so a build links only the services its handshake code names.
    // A fatal fault: queues CLOSE (or a clear CLOSE) and closes; returns err.
    Status fail(Err err, const Now& now) noexcept;
    // Bytes of a kept message slot (detail::kept_cap; cfg_.max_data is clamped).
    std::size_t kept_cap() const noexcept { return detail::kept_cap(cfg_.max_data); }
    // The slot for a new message we send (kept_cap() bytes); the older kept one goes.
    std::uint8_t* new_slot() noexcept;
    // Send the message built in new_slot() (len bytes, encoded and sealed); it
    // is kept and resent byte for byte. nonce: what it advances our sequence
    // by; awaits: a reply is expected.
    Status send_kept(const wire::Inner& meta, std::size_t len, std::uint32_t nonce, bool awaits,
                     const Now& now) noexcept;
    // The header of our next message (seq, ack, ttl), body empty.
    wire::Inner next_inner(MsgType t, const Now& now) noexcept;
    std::uint32_t make_ttl(const Now& now) noexcept;
    Status check_ttl(std::uint32_t ttl, const Now& now) noexcept;
    // Accept the peer's message: the next one must carry seq + 1 + nonce (spec §8.1).
    void accept_rx(std::uint32_t seq, MsgType t, std::uint32_t nonce) noexcept;
    void push_event(const Event& ev) noexcept;
    // Scratch space of inner_cap_ bytes, free while a handshake message is handled.
    Bytes scratch() noexcept;
    // Server: a request kept while a re-key ran is served now.
    Status serve_stashed(const Now& now) noexcept;

protected:
    ~Link() = default;

private:
    void trace_in(const wire::Inner& m, std::size_t wire_len) noexcept;
};

}  // namespace lockstep::handshake
