// SPDX-License-Identifier: Apache-2.0
// lockstep — engine internals shared by src/handshake (handshake and re-key
// messages) and src/session (dispatch, data, timers, close).
//
// How the engine works (spec: PROTOCOL.md §8, §10):
//  * receive(): frame byte -> (clear HELLO / HELLO ACK / CLOSE) or record ->
//    pick the epoch's keys -> open -> decode inner -> ttl -> sequence checks ->
//    the transition table (handshake/table.hpp) -> the handler.
//  * Every new message we send is kept (the last two) so RESEND LAST can
//    retransmit what the peer lacks: handshake messages byte for byte, data
//    messages re-sealed under a fresh record number with a fresh ttl.
//  * A fault is fatal under the strict policy; under the tolerant policy
//    recoverable faults (bad MAC, replay, wrong sequence, expired, unexpected)
//    are dropped or answered with RESEND LAST, at most max_resends in a row.
#pragma once

#include <new>
#include <type_traits>

#include "handshake/auth.hpp"
#include "handshake/table.hpp"
#include "keys/keys.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/features.hpp"
#include "record/record.hpp"
#include "wire/wire.hpp"

namespace lockstep {

// A relative-ttl connection is closed (limit_exceeded) once it is this old,
// long before the u32 ttl could wrap (2^32 ms). spec: PROTOCOL.md §8.3
inline constexpr std::int64_t kRelativeTtlMaxAge = std::int64_t{1} << 31;

struct KeyState {
    Secret<crypto::kX25519Len> x_priv;       // our ephemeral X25519 key (current handshake)
    std::array<std::uint8_t, crypto::kX25519Len> x_pub{};  // its public half (lets the provider skip recomputing it)
    bool have_x = false;
    keys::Transcript th;
    keys::EarlySecret early;
    keys::MasterSecret master;
    // PSK modes: Expand-Label(early, "rekey psk", "", 32), mixed into every
    // re-key so that master(n) alone does not give master(n+1) (spec §5.6).
    keys::Secret32 rekey_psk;
    keys::Secret32 c_hs, s_hs;       // handshake (or re-key) traffic secrets: finished keys
    record::DirectionKeys tx, rx;    // current epoch
    record::DirectionKeys next_tx;   // re-key in progress
    // The second receive key set, one of (told apart by the epoch byte):
    //  * the next epoch's, during a re-key (client: from its HELLO ACK to the
    //    ACK; server: inside on_rekey_hello_ack), other_is_prev = false;
    //  * server, after a re-key: the previous epoch's, until the client's first
    //    record under the new keys (a request sent before our ACK arrived is
    //    not lost), other_is_prev = true.
    // Never both: the server derives next keys only from a HELLO ACK opened
    // under the current keys, and opening a current-epoch record drops the
    // previous ones (Engine::receive).
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
        early.s.wipe();
        c_hs.wipe();
        s_hs.wipe();
    }
};

struct Engine::Impl {
    static void keylog(Engine& e, const char* label, ConstBytes v) noexcept {
        if constexpr (features::kInsecureKeyLog)
            if (e.cfg_.insecure_key_log) e.cfg_.insecure_key_log->on_secret(label, e.epoch_, v);
    }
    // The engine's role, folded to a constant when one role is compiled (features.hpp).
    static bool client(const Engine& e) noexcept { return features::is_client(e.cfg_.role); }
    static bool server(const Engine& e) noexcept { return features::is_server(e.cfg_.role); }
    // A rejected message, for the tracer (fatal: the connection closes).
    static void note_fault(const Engine& e, Err err, bool fatal) noexcept {
        if constexpr (features::kTrace)
            if (e.tracer_) e.tracer_->on_fault(err, fatal);
    }
    static KeyState& ks(Engine& e) noexcept {
        return *std::launder(static_cast<KeyState*>(static_cast<void*>(e.keystate_)));
    }
    static crypto::Provider& P(Engine& e) noexcept { return *e.cfg_.provider; }

    // ---- session (src/session/engine.cpp)
    static Status fail(Engine& e, Err err, const Now& now) noexcept;
    static Status fault(Engine& e, Err err, const Now& now) noexcept;  // policy decides
    // An unauthenticated message that failed: dropped under the tolerant policy, fatal under strict (spec §8.5).
    static Status drop(Engine& e, Err err, const Now& now) noexcept;
    static bool same_frame(Engine& e, ConstBytes msg, const std::array<std::uint8_t, 32>& digest) noexcept;
    // Server, before the client proved its address: may n more bytes go out? (spec §8.6)
    static bool within_amplification_limit(Engine& e, std::size_t n) noexcept;
    // A callable without allocation (the core has no std::function).
    class FunctionRef {
    public:
        template <class F>
        FunctionRef(F&& f) noexcept  // NOLINT: implicit by design
            : obj_(&f), call_([](void* o) noexcept { return (*static_cast<std::remove_reference_t<F>*>(o))(); }) {}
        Status operator()() const noexcept { return call_(obj_); }

    private:
        void* obj_;
        Status (*call_)(void*) noexcept;
    };
    static Status handshake_step(Engine& e, const Now& now, FunctionRef step) noexcept;
    static void enter_closed(Engine& e, Reason r, bool by_peer, bool acknowledged, Err err) noexcept;
    static void push_event(Engine& e, const Event& ev) noexcept;
    static Status queue_wire(Engine& e, ConstBytes bytes, const Now& now) noexcept;
    // Room for an n-byte message in the transmit queue: its address, or null
    // when the amplification limit holds it back; commit_wire queues it.
    static Result<std::uint8_t*> reserve_wire(Engine& e, std::size_t n) noexcept;
    static void commit_wire(Engine& e, std::size_t n, const Now& now) noexcept;
    // A kept pre-key frame, as it goes on the wire (a client's HELLO with its cookie, §6.8).
    static Status queue_raw(Engine& e, const Kept& k, const Now& now) noexcept;
    // Where the client keeps the server's cookie: the tail of the slot holding
    // its HELLO (far longer than any HELLO), valid while in WAIT HELLO ACK.
    static std::uint8_t* cookie_bytes(Engine& e) noexcept { return e.kept_[1].buf + e.inner_cap_ - wire::kMaxCookie; }
    static std::uint32_t make_ttl(Engine& e, const Now& now) noexcept;
    static Status check_ttl(Engine& e, std::uint32_t ttl, const Now& now) noexcept;
    static wire::Inner next_inner(Engine& e, MsgType t, const Now& now) noexcept;
    static Kept& keep_slot(Engine& e) noexcept;  // rotate: returns the slot for a new message
    static void commit_tx(Engine& e, MsgType t, std::uint32_t seq, std::uint32_t nonce, bool awaits) noexcept;
    // Send a new data-phase message (kept as plaintext).
    static Status send_message(Engine& e, MsgType t, ConstBytes body, std::uint32_t nonce, bool awaits,
                               const Now& now) noexcept;
    // Send the new handshake message built in kept_[1] (see keep_slot), len
    // bytes, already encoded and sealed; it is kept and resent byte for byte.
    static Status send_raw(Engine& e, const wire::Inner& meta, std::size_t len, std::uint32_t nonce,
                           bool awaits, const Now& now) noexcept;
    // Seal, in place, a record whose plaintext (inner_len bytes, no padding) was
    // written at buf + kRecordHeaderLen. Returns the record length.
    static Result<std::size_t> seal_in_place(Engine& e, record::DirectionKeys& k, std::uint8_t* buf,
                                             std::size_t inner_len) noexcept;
    // Seal an inner message under keys and queue it (no bookkeeping).
    static Status seal_and_queue(Engine& e, record::DirectionKeys& k, const wire::Inner& m, const Now& now,
                                 bool retransmission) noexcept;
    static Status send_resend_last(Engine& e, const Now& now) noexcept;
    static Status retransmit_after(Engine& e, std::uint32_t ack, const Now& now) noexcept;
    static Status send_clear_close(Engine& e, Reason r, const Now& now) noexcept;
    static Status retransmit(Engine& e, Kept& k, const Now& now) noexcept;
    // The tracer's view of a message (nothing at all in a build without kTrace).
    static void trace(Engine& e, bool sent, const wire::Inner& m, std::size_t wire_len, bool retrans) noexcept {
        if constexpr (features::kTrace)
            if (e.tracer_) trace_message(e, sent, m, wire_len, retrans);
    }
    static void trace_raw(Engine& e, const Kept& k, bool retrans) noexcept {
        if constexpr (features::kTrace)
            if (e.tracer_) trace_kept(e, k, retrans);
    }
    static void trace_message(Engine& e, bool sent, const wire::Inner& m, std::size_t wire_len, bool retrans) noexcept;
    static void trace_kept(Engine& e, const Kept& k, bool retrans) noexcept;
    static Status dispatch(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    // The handler of a role-specific action; a role left out of the build has none.
    static Status role_action(Engine& e, handshake::Action a, const wire::Inner& m, const Now& now) noexcept;
    static Status on_data_request(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    static Status stash_request(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    static Status on_data_response(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    static Status on_data_ack(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    static void adopt_early_stash(Engine& e) noexcept;
    static Status process_stash(Engine& e, const Now& now) noexcept;
    static void install_epoch(Engine& e, const Now& now) noexcept;  // next_* -> current, epoch++

    // ---- handshake (src/handshake/handshake.cpp, rekey.cpp)
    static Status client_start(Engine& e, const Now& now) noexcept;
    static Status on_hello(Engine& e, ConstBytes msg, const Now& now) noexcept;
    static Status on_hello_ack(Engine& e, ConstBytes msg, const Now& now) noexcept;
    static Result<keys::HandshakeSecret> handshake_keys(Engine& e, keys::EarlySecret&& early,
                                                        keys::Secret32& shared) noexcept;
    static Status on_ack(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    // Server: epoch 1 from the master secret and th8 (the transcript through ACK); state IDLE.
    static Status server_enter_epoch1(Engine& e, const Now& now) noexcept;
    static Status start_rekey(Engine& e, const Now& now) noexcept;
    static Status on_rekey_hello(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    static Status on_rekey_hello_ack(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    static Status on_rekey_ack(Engine& e, const wire::Inner& m, const Now& now) noexcept;
    static bool rekey_due(Engine& e, const Now& now) noexcept;
    // The per-key limits of the negotiated suite under this configuration (spec §6.7).
    static record::Limits limits(const Engine& e) noexcept { return record::key_limits(e.suite_, e.cfg_.key_limits); }
    // After a record opened (authenticated) or failed to: is a key past its hard limit?
    static Status check_rx_limits(Engine& e, const record::DirectionKeys& k, std::uint32_t rn, std::size_t len) noexcept;
    static Status accept_peer_cert(Engine& e, ConstBytes cert, ConstBytes sig, CertRole role, const Now& now) noexcept;
    // The peer certificate's CA signature (through the cache), checked only
    // after the transcript signature verified under its key (spec §7.4).
    static Status peer_cert_signed(Engine& e, ConstBytes cert) noexcept;
    // The peer's certificate key, remembered from the initial handshake.
    static handshake::PeerKey peer_key(const Engine& e) noexcept;
};

// The best mutual choice under the published rule (spec §5.5): the highest
// common version; the first of the client's suites the server supports; the
// first of the client's modes the server supports whose inputs were offered.
struct Choice {
    std::uint8_t version = 0;
    Suite suite = Suite::aes256gcm;
    Mode mode = Mode::cert;
};
Result<Choice> negotiate(const wire::IdList& c_versions, const wire::IdList& c_suites, const wire::IdList& c_modes,
                         const wire::IdList& s_versions, const wire::IdList& s_suites, const wire::IdList& s_modes,
                         bool psk_offered, bool share_offered) noexcept;

}  // namespace lockstep
