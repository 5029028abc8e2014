/* SPDX-License-Identifier: Apache-2.0 */
/* lockstep — the C API over the sans-I/O engine (C99; also valid C++).
 *
 * For C firmware and for other languages' foreign-function interfaces. The
 * engine is the same one the C++ API drives (lockstep/engine.hpp); it never
 * touches sockets, clocks or threads: the caller feeds it whole messages and
 * the time, and sends what it hands back. Link lockstep::openssl (CMake) or
 * `pkg-config --libs lockstep`; the engine uses the OpenSSL 3 provider.
 *
 * Memory: nothing here allocates on the caller's behalf except OpenSSL's own
 * contexts inside the provider. The caller provides
 *   - a lockstep_engine (LOCKSTEP_ENGINE_SIZE bytes, aligned for any object:
 *     declare one, or use lockstep_engine_size()/_align() for other memory), and
 *   - a workspace of lockstep_workspace_size(max_data) bytes.
 * Both, and the PSK and identity bytes the config points to, must stay valid
 * and unmoved from lockstep_engine_init() until lockstep_engine_deinit().
 * lockstep_engine_deinit() wipes the key material; call it exactly once for
 * every successful init.
 *
 * Errors: every function returning int gives LOCKSTEP_OK (0) or a negative
 * LOCKSTEP_ERR_* code; lockstep_strerror() names it. A fatal fault queues a
 * CLOSE to send (poll_transmit), is returned once, and then every call gives
 * LOCKSTEP_ERR_CLOSED.
 *
 * Events: drain lockstep_poll_event() after every call; the data pointer of an
 * event stays valid only until the next call into the engine.
 *
 * Threads: one engine must not be used from two threads at once; distinct
 * engines are independent.
 * spec: PROTOCOL.md §10 (the engine interface)
 */
#ifndef LOCKSTEP_LOCKSTEP_H
#define LOCKSTEP_LOCKSTEP_H

#include <stddef.h>
#include <stdint.h>

#include "lockstep/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version (of the library actually linked) */
LOCKSTEP_API const char* lockstep_version(void);

/* ---- error codes: 0 or minus the engine's error number */
enum {
    LOCKSTEP_OK = 0,
    LOCKSTEP_ERR_TRUNCATED = -2,
    LOCKSTEP_ERR_TOO_LONG = -4,
    LOCKSTEP_ERR_BAD_MAC = -6,
    LOCKSTEP_ERR_UNEXPECTED_MESSAGE = -12,
    LOCKSTEP_ERR_BAD_SEQUENCE = -13,
    LOCKSTEP_ERR_EXPIRED = -14,
    LOCKSTEP_ERR_REPLAY = -16,
    LOCKSTEP_ERR_UNKNOWN_PSK = -18,
    LOCKSTEP_ERR_NO_COMMON_PARAMETERS = -19,
    LOCKSTEP_ERR_BUFFER_TOO_SMALL = -21,
    LOCKSTEP_ERR_INVALID_ARGUMENT = -24,
    LOCKSTEP_ERR_WRONG_STATE = -25,
    LOCKSTEP_ERR_CLOSED = -26,
    LOCKSTEP_ERR_TIMEOUT = -27,
    LOCKSTEP_ERR_INTERNAL = -29,
    LOCKSTEP_ERR_UNSUPPORTED = -30
};
/* Any code this library returns (also those without a name above), e.g. "bad_mac". */
LOCKSTEP_API const char* lockstep_strerror(int code);

/* ---- configuration (PSK modes) */
enum { LOCKSTEP_ROLE_CLIENT = 0, LOCKSTEP_ROLE_SERVER = 1 };
/* LOCKSTEP_MODE_PSK: pre-shared key + X25519 (forward secret; the default).
 * LOCKSTEP_MODE_PSK_ONLY: the pre-shared key alone: NO forward secrecy. */
enum { LOCKSTEP_MODE_PSK = 2, LOCKSTEP_MODE_PSK_ONLY = 4 };
/* LOCKSTEP_POLICY_STRICT for a stream (TCP): any fault closes.
 * LOCKSTEP_POLICY_TOLERANT for datagrams (UDP): RESEND LAST before giving up. */
enum { LOCKSTEP_POLICY_STRICT = 0, LOCKSTEP_POLICY_TOLERANT = 1 };

typedef struct lockstep_config {
    int role;                /* LOCKSTEP_ROLE_* */
    int mode;                /* LOCKSTEP_MODE_*; 0: LOCKSTEP_MODE_PSK */
    int policy;              /* LOCKSTEP_POLICY_* */
    const uint8_t* psk;      /* 16..64 bytes; borrowed (see Memory above) */
    size_t psk_len;
    const uint8_t* psk_id;   /* 1..64 bytes; the server accepts this one identity */
    size_t psk_id_len;
    uint16_t max_data;       /* largest request/response body; 0: 16384 */
    uint32_t rekey_after;    /* server: re-key after this many responses; 0: never */
} lockstep_config;

/* Fills *cfg with the defaults (client, PSK + X25519, strict, max_data 16384). */
LOCKSTEP_API void lockstep_config_init(lockstep_config* cfg);

/* ---- the engine, in caller memory */
#define LOCKSTEP_ENGINE_SIZE 6144
typedef struct lockstep_engine {
    union {
        unsigned char bytes[LOCKSTEP_ENGINE_SIZE];
        long double align_ld; /* aligned like the most aligned scalar */
        uint64_t align_u64;
        void* align_ptr;
    } opaque;
} lockstep_engine;
/* What this library needs (<= LOCKSTEP_ENGINE_SIZE and <= sizeof(lockstep_engine)). */
LOCKSTEP_API size_t lockstep_engine_size(void);
LOCKSTEP_API size_t lockstep_engine_align(void);
/* Workspace bytes for a given max_data (0: 16384). */
LOCKSTEP_API size_t lockstep_workspace_size(uint16_t max_data);
/* Largest message lockstep_poll_transmit can produce for max_data (0: 16384). */
LOCKSTEP_API size_t lockstep_max_message_size(uint16_t max_data);

/* engine: at least lockstep_engine_size() bytes aligned to lockstep_engine_align().
 * The config is copied; what its pointers point to is borrowed. */
LOCKSTEP_API int lockstep_engine_init(lockstep_engine* engine, size_t engine_len, const lockstep_config* cfg,
                                      uint8_t* workspace, size_t workspace_len);
/* Wipes the keys and releases the provider. The memory is the caller's again. */
LOCKSTEP_API void lockstep_engine_deinit(lockstep_engine* engine);

/* ---- driving it. Times: now_ms is a monotonic clock in milliseconds (any
 * origin); unix_ms the wall clock in milliseconds since 1970 (ttl checks). */
LOCKSTEP_API int lockstep_start(lockstep_engine* engine, uint64_t now_ms, int64_t unix_ms);
/* One whole message (the transport frames them: over TCP a big-endian u16
 * length precedes each message; over UDP one message per datagram). */
LOCKSTEP_API int lockstep_receive(lockstep_engine* engine, const uint8_t* msg, size_t len, uint64_t now_ms,
                                  int64_t unix_ms);
/* Call when now_ms >= the deadline from lockstep_next_deadline. */
LOCKSTEP_API int lockstep_on_timeout(lockstep_engine* engine, uint64_t now_ms, int64_t unix_ms);
LOCKSTEP_API int lockstep_send_request(lockstep_engine* engine, const uint8_t* body, size_t len, uint64_t now_ms,
                                       int64_t unix_ms);
LOCKSTEP_API int lockstep_send_response(lockstep_engine* engine, const uint8_t* body, size_t len, uint64_t now_ms,
                                        int64_t unix_ms);
LOCKSTEP_API int lockstep_close(lockstep_engine* engine, uint64_t now_ms, int64_t unix_ms);

/* Copies the next message to send into out; returns its length, 0 when there
 * is none, or a negative error (LOCKSTEP_ERR_BUFFER_TOO_SMALL: use
 * lockstep_max_message_size). */
LOCKSTEP_API long lockstep_poll_transmit(lockstep_engine* engine, uint8_t* out, size_t out_len);

enum {
    LOCKSTEP_EVENT_HANDSHAKE_DONE = 0,
    LOCKSTEP_EVENT_REQUEST = 1,  /* server: answer with lockstep_send_response */
    LOCKSTEP_EVENT_RESPONSE = 2, /* client: the body of the outstanding request */
    LOCKSTEP_EVENT_REKEYED = 3,
    LOCKSTEP_EVENT_CLOSED = 4
};
typedef struct lockstep_event {
    int kind;             /* LOCKSTEP_EVENT_* */
    const uint8_t* data;  /* request / response body; valid until the next call */
    size_t data_len;
    uint32_t epoch;
    int reason;           /* closed: the CLOSE reason code (PROTOCOL.md §9) */
    int by_peer;          /* closed: the peer closed */
    int acknowledged;     /* closed: CLOSE ACK exchanged */
    int error;            /* closed: local cause (LOCKSTEP_ERR_*) or 0 */
} lockstep_event;
/* 1 and fills *ev when an event was waiting, else 0. */
LOCKSTEP_API int lockstep_poll_event(lockstep_engine* engine, lockstep_event* ev);

/* 1 and sets *deadline_ms (same clock as now_ms) when a timer runs, else 0. */
LOCKSTEP_API int lockstep_next_deadline(const lockstep_engine* engine, uint64_t* deadline_ms);
LOCKSTEP_API int lockstep_is_established(const lockstep_engine* engine);
LOCKSTEP_API int lockstep_is_closed(const lockstep_engine* engine);
LOCKSTEP_API int lockstep_can_send_request(const lockstep_engine* engine);
LOCKSTEP_API uint32_t lockstep_epoch(const lockstep_engine* engine);
/* The state's name ("idle", "wait_response", ...). */
LOCKSTEP_API const char* lockstep_state_name(const lockstep_engine* engine);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LOCKSTEP_LOCKSTEP_H */
