// SPDX-License-Identifier: Apache-2.0
/* lockstep example: a PSK client in C over TCP, on the C API (lockstep/lockstep.h).
 *
 *   psk_client HOST PORT KEYFILE IDENTITY [REQUEST...]
 *
 * KEYFILE holds the raw pre-shared key (16..64 bytes, mode 0600: refused when
 * group or others may read it). Each REQUEST (default: "m=3") is sent as one
 * DATA REQUEST and its response printed as one line; then the connection is
 * closed with CLOSE / CLOSE ACK. Try it against
 *   lockstep serve --tcp 7400 --psk KEYFILE --psk-id IDENTITY --source sensor:5
 * Exit code: 0 when every request was answered and the close acknowledged. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lockstep/lockstep.h>

#define MAX_DATA 4096

static uint64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)(t.tv_nsec / 1000000);
}
static int64_t unix_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads the key; refuses a file others may read (like the lockstep tool). */
static int read_key(const char* path, uint8_t* key, size_t cap, size_t* len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    ssize_t n;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        fprintf(stderr, "psk_client: %s: missing, not a file, or readable by group/others\n", path);
        if (fd >= 0) close(fd);
        return -1;
    }
    n = read(fd, key, cap);
    close(fd);
    if (n < 16 || n > 64) {
        fprintf(stderr, "psk_client: %s: a key is 16..64 bytes\n", path);
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

static int connect_tcp(const char* host, const char* port) {
    struct addrinfo hints, *res, *ai;
    int fd = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int write_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends every message the engine queued, each behind its u16 length (PROTOCOL.md §6.1). */
static int flush(lockstep_engine* e, int fd, uint8_t* buf, size_t cap) {
    long n;
    while ((n = lockstep_poll_transmit(e, buf + 2, cap - 2)) > 0) {
        buf[0] = (uint8_t)(n >> 8);
        buf[1] = (uint8_t)n;
        if (write_all(fd, buf, (size_t)n + 2) != 0) return -1;
    }
    return n < 0 ? -1 : 0;
}

struct conn {
    lockstep_engine engine; /* in our memory; no allocation by lockstep */
    int fd;
    uint8_t in[2 + 8192 + 512];
    size_t in_len;
    uint8_t out[2 + 8192 + 512];
};

/* Runs the engine until `want` happens (an event kind) or the connection ends.
 * Prints responses. Returns 0 when `want` happened. */
static int run_until(struct conn* c, int want) {
    for (;;) {
        lockstep_event ev;
        uint64_t deadline = 0, now;
        int timeout = -1, r;
        struct pollfd p;
        while (lockstep_poll_event(&c->engine, &ev)) {
            if (ev.kind == LOCKSTEP_EVENT_RESPONSE) printf("%.*s\n", (int)ev.data_len, (const char*)ev.data);
            if (ev.kind == LOCKSTEP_EVENT_CLOSED) {
                if (want == LOCKSTEP_EVENT_CLOSED && ev.acknowledged) return 0;
                fprintf(stderr, "psk_client: closed (reason %d%s, %s)\n", ev.reason, ev.by_peer ? ", by the peer" : "",
                        lockstep_strerror(ev.error));
                return -1;
            }
            if (ev.kind == want) return 0;
        }
        if (lockstep_is_closed(&c->engine)) return -1;
        now = mono_ms();
        if (lockstep_next_deadline(&c->engine, &deadline)) timeout = deadline > now ? (int)(deadline - now) : 0;
        p.fd = c->fd;
        p.events = POLLIN;
        r = poll(&p, 1, timeout);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            lockstep_on_timeout(&c->engine, mono_ms(), unix_ms());
        } else {
            ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
            size_t used = 0;
            if (n <= 0) {
                fprintf(stderr, "psk_client: the server closed the connection\n");
                return -1;
            }
            c->in_len += (size_t)n;
            while (c->in_len - used >= 2) { /* every whole frame */
                size_t len = ((size_t)c->in[used] << 8) | c->in[used + 1];
                if (len > sizeof c->in - 2) return -1;
                if (c->in_len - used < 2 + len) break;
                lockstep_receive(&c->engine, c->in + used + 2, len, mono_ms(), unix_ms());
                used += 2 + len;
            }
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
        }
        if (flush(&c->engine, c->fd, c->out, sizeof c->out) != 0) return -1;
    }
}

int main(int argc, char** argv) {
    static struct conn c;
    static uint8_t workspace[32768];
    uint8_t key[64];
    size_t key_len = 0;
    lockstep_config cfg;
    int rc, i, status = 0;
    const char* fallback[] = {"m=3"};
    const char** requests = argc > 5 ? (const char**)argv + 5 : fallback;
    int n_requests = argc > 5 ? argc - 5 : 1;

    if (argc < 5) {
        fprintf(stderr, "usage: psk_client HOST PORT KEYFILE IDENTITY [REQUEST...]\n");
        return 1;
    }
    if (read_key(argv[3], key, sizeof key, &key_len) != 0) return 2;
    if (lockstep_workspace_size(MAX_DATA) > sizeof workspace ||
        lockstep_max_message_size(MAX_DATA) > sizeof c.out - 2) {
        fprintf(stderr, "psk_client: buffers too small for this library\n");
        return 70;
    }
    lockstep_config_init(&cfg);
    cfg.role = LOCKSTEP_ROLE_CLIENT;
    cfg.mode = LOCKSTEP_MODE_PSK; /* PSK + X25519: forward secret */
    cfg.psk = key;
    cfg.psk_len = key_len;
    cfg.psk_id = (const uint8_t*)argv[4];
    cfg.psk_id_len = strlen(argv[4]);
    cfg.max_data = MAX_DATA;
    rc = lockstep_engine_init(&c.engine, sizeof c.engine, &cfg, workspace, sizeof workspace);
    if (rc != LOCKSTEP_OK) {
        fprintf(stderr, "psk_client: init: %s\n", lockstep_strerror(rc));
        return 1;
    }
    c.fd = connect_tcp(argv[1], argv[2]);
    if (c.fd < 0) {
        fprintf(stderr, "psk_client: cannot connect to %s:%s\n", argv[1], argv[2]);
        lockstep_engine_deinit(&c.engine);
        return 3;
    }
    if (lockstep_start(&c.engine, mono_ms(), unix_ms()) != LOCKSTEP_OK ||
        flush(&c.engine, c.fd, c.out, sizeof c.out) != 0 || run_until(&c, LOCKSTEP_EVENT_HANDSHAKE_DONE) != 0) {
        fprintf(stderr, "psk_client: handshake failed\n");
        status = 4;
    }
    for (i = 0; status == 0 && i < n_requests; ++i) {
        rc = lockstep_send_request(&c.engine, (const uint8_t*)requests[i], strlen(requests[i]), mono_ms(), unix_ms());
        if (rc != LOCKSTEP_OK || flush(&c.engine, c.fd, c.out, sizeof c.out) != 0 ||
            run_until(&c, LOCKSTEP_EVENT_RESPONSE) != 0)
            status = 5;
    }
    if (status == 0) {
        if (lockstep_close(&c.engine, mono_ms(), unix_ms()) != LOCKSTEP_OK ||
            flush(&c.engine, c.fd, c.out, sizeof c.out) != 0 || run_until(&c, LOCKSTEP_EVENT_CLOSED) != 0)
            status = 5;
    }
    close(c.fd);
    lockstep_engine_deinit(&c.engine); /* wipes the keys */
    memset(key, 0, sizeof key);
    return status;
}
