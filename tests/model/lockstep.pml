/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lockstep — a Promela model of the client and server state machines
 * (R4, R7-R12; PROTOCOL.md §2.3-§2.6, §5.6, §8), checked with Spin by
 * check_model.py (CTest: model_spin). README.md in this folder explains it.
 *
 * Follows, line by line where it matters:
 *   src/handshake/table.cpp   the transition table: c_lookup / s_lookup below
 *                             hold one guard per row of kTransitions, each
 *                             with a `row:` comment; table_sync_test checks
 *                             that the two are the same set of rows;
 *   src/session/engine.cpp    receive, dispatch (the order of checks of
 *                             PROTOCOL.md §8.6), RESEND LAST, retransmit_after,
 *                             fault / fail under the strict and tolerant
 *                             policies, on_timeout, close;
 *   src/handshake/*.cpp       the handlers (initial handshake, re-key, stash).
 *
 * Abstractions (README.md argues each):
 *  - crypto: every message is authentic; the channel may corrupt a record
 *    (bad MAC) but never forges;
 *  - sequence numbers: per sender a counter from 1, every nonce 0 (nonces only
 *    make numbers unpredictable to an attacker who cannot forge here); record
 *    numbers per sender and epoch; the replay window as a bit set;
 *  - time: no clock. A timer expires when nothing else can happen (timers
 *    long compared with the network), and at most EARLY times in a run at any
 *    moment the engine has one armed (a timer racing a message). ttl expiry is
 *    not modelled;
 *  - the channel: per direction a FIFO of at most CAP messages (more are
 *    dropped), with bounded loss, duplication (the copy arrives last),
 *    out-of-order delivery and corruption;
 *  - the applications: the client sends K_REQ requests one after another,
 *    then closes; the server answers each request; the server re-keys after
 *    N_REKEY acknowledged responses. A server that never received anything is
 *    reaped (as transports do) once its client has closed.
 *
 * Knobs (spin -a -DNAME=value): TOLERANT, LOSS, DUPS, REORDER, CORRUPT, BIG,
 * EARLY, CAP, K_REQ, N_REKEY; PROP_RL, PROP_CLOSE, PROP_REKEY, PROP_REQ,
 * PROP_ROW switch the property assertions; COVER=1 asks for a witness.
 * LTL properties: terminates, completes.
 */

/* ------------------------------------------------------------------ knobs */
#ifndef TOLERANT
#define TOLERANT 1          /* 1: Policy::tolerant (datagrams), 0: Policy::strict */
#endif
#ifndef REORDER
#define REORDER 2           /* deliveries out of sending order the channel may make; 0: FIFO */
#endif
#ifndef LOSS
#define LOSS 2              /* messages the channel may lose (in total) */
#endif
#ifndef DUPS
#define DUPS 1              /* messages the channel may duplicate */
#endif
#ifndef CORRUPT
#define CORRUPT 0           /* records the channel may corrupt (bad MAC) */
#endif
#ifndef BIG
#define BIG 0               /* data messages whose body is over the receiver's max_data (its peer
                               runs a larger one): the receiver closes, spec §8.6 step 3 */
#endif
#ifndef CAP
#define CAP 6               /* messages in flight per direction; more are dropped */
#endif
#ifndef K_REQ
#define K_REQ 3             /* DATA REQUESTs the client sends */
#endif
#ifndef N_REKEY
#define N_REKEY 2           /* RekeyPolicy::after_responses */
#endif
#ifndef EARLY
#define EARLY 2             /* timer expiries allowed while the network or the peer could still act */
#endif
#ifndef PROP_RL
#define PROP_RL 1           /* at most MAX_RESENDS RESEND LAST in a row */
#endif
#ifndef PROP_CLOSE
#define PROP_CLOSE 1        /* CLOSE at most 1 + MAX_CLOSE_RETRIES times, then CLOSED WITHOUT ACK */
#endif
#ifndef PROP_REKEY
#define PROP_REKEY 1        /* a re-key starts exactly after N_REKEY acknowledged responses */
#endif
#ifndef PROP_REQ
#define PROP_REQ 1          /* no DATA REQUEST lost; responses answer the outstanding request */
#endif
#ifndef COVER
#define COVER 0             /* 1: assert that no response to a request that crossed a re-key is ever
                               received, so that Spin shows one (the model is not vacuous) */
#endif
#ifndef PROP_ROW
#define PROP_ROW 1          /* a row's handler ends in the row's `to` or `alt` state */
#endif

#if CAP > 8
#error "PICK handles at most 8 messages in flight per direction"
#endif

#define MAX_RESENDS 3       /* Timers::max_resends */
#define MAX_CLOSE_RETRIES 3 /* Timers::max_close_retries */
#define NEP (K_REQ / N_REKEY + 2)   /* epochs 0 (handshake) .. last */

#define C 0
#define S 1

/* States (include/lockstep/engine.hpp State, upper case), message types
 * (include/lockstep/types.hpp MsgType, upper case) and handler actions
 * (src/handshake/table.hpp Action, same spelling). */
/* Spin numbers an mtype list backwards: HELLO = 1 .. CLOSED_WITHOUT_ACK = 10, as on the wire. */
mtype = {
  CLOSED_WITHOUT_ACK, CLOSE_ACK, CLOSE, RESEND_LAST, DATA_ACK, DATA_RESPONSE, DATA_REQUEST,
  ACK, HELLO_ACK, HELLO
};
mtype = {
  START, WAIT_HELLO_ACK, WAIT_ACK, IDLE, WAIT_RESPONSE, SERVING, WAIT_DATA_ACK,
  REKEY_WAIT_HELLO_ACK, REKEY_WAIT_ACK, WAIT_CLOSE_ACK, CLOSED
};
mtype = {
  on_hello, on_hello_ack, on_ack, on_rekey_hello, on_rekey_hello_ack, on_rekey_ack,
  on_data_request, stash_request, on_data_response, on_data_ack, on_resend_last,
  on_close, on_close_ack, on_closed_without_ack, ignore, no_row
};

/* ------------------------------------------------------------------ the network */
/* A message, packed in one int:
 * type, seq, ack (PROTOCOL.md §8.1), record epoch and record number (§6.4),
 * req (ghost: the request a DATA REQUEST carries or a DATA RESPONSE answers),
 * clr (a clear frame: HELLO 0x01, HELLO ACK 0x02, clear CLOSE 0x08), bad
 * (corrupted in flight) and big (a DATA REQUEST / RESPONSE whose authentic
 * body is over the receiver's max_data; set by the Network within BIG). */
#define PACK(t, sq, ak, e, r, rq, cl) (((t) << 23) | ((sq) << 18) | ((ak) << 13) | ((e) << 11) | ((r) << 5) | ((rq) << 2) | ((cl) << 1))
#define M_TYPE(x) (((x) >> 23) & 15)
#define M_SEQ(x) (((x) >> 18) & 31)
#define M_ACK(x) (((x) >> 13) & 31)
#define M_EP(x) (((x) >> 11) & 3)
#define M_RN(x) (((x) >> 5) & 63)
#define M_REQ(x) (((x) >> 2) & 7)
#define M_CLR(x) (((x) >> 1) & 1)
#define M_BAD(x) ((x) & 1)
#define M_BIG(x) (((x) >> 27) & 1)

int bag[2 * CAP];   /* bag[d*CAP + i]: in flight from side d to side 1-d */
byte blen[2];
byte g_loss, g_dup, g_bad, g_big, g_early, g_reord;
bit g_overflow;

/* ------------------------------------------------------------------ one engine per side */
mtype st[2];
byte tx_seq[2], tx_next[2];
byte rx_seq[2], rx_next[2];
mtype rx_type[2];
bit rx_any[2];
bit awaiting[2];                    /* awaiting_reply_ */
byte resends[2], rx_resends[2], close_retries[2];
byte epoch[2];
byte responses[2];                  /* responses_in_epoch_ (server) */

/* The last two new messages (Engine::kept_): [side*2] older, [side*2+1] newer. */
bit k_used[4], k_raw[4], k_clr[4];
mtype k_type[4];
byte k_seq[4], k_ack[4], k_ep[4], k_rn[4], k_req[4];

/* Keys by epoch: current tx/rx, next (re-key in progress), prev rx (server). */
byte tx_ep[2], ntx_ep[2], rx_ep[2], nrx_ep[2], prx_ep[2];
bit tx_ok[2], ntx_ok[2], rx_ok[2], nrx_ok[2], prx_ok[2];
byte rn_next[2 * NEP];              /* next record number, per sender and epoch */
int winlo[2 * NEP], winhi[2 * NEP]; /* replay window, per receiver and epoch: bit rn = seen (rn < 62:
                                       the engine's 64-record window never slides out) */
#define WSEEN(w, r) ((r) < 31 -> (winlo[w] >> (r)) & 1 : (winhi[w] >> ((r) - 31)) & 1)
#define WMARK(w, r) if :: (r) < 31 -> winlo[w] = winlo[w] | (1 << (r)) :: else -> winhi[w] = winhi[w] | (1 << ((r) - 31)) fi
#define WUNMARK(w, r) if :: (r) < 31 -> winlo[w] = winlo[w] & ~(1 << (r)) :: else -> winhi[w] = winhi[w] & ~(1 << ((r) - 31)) fi
#define WWIPE(w) winlo[w] = 0; winhi[w] = 0

/* server: the one-slot stash (stash_used_, stash_checked_) */
bit stash_used, stash_checked;
byte stash_seq, stash_req;
/* client: request_outstanding_ and the application's progress */
bit req_out;
byte c_reqs;

/* ------------------------------------------------------------------ ghosts */
byte g_req_seq[K_REQ + 1];          /* seq of the client's request r */
bit g_delivered[K_REQ + 1];         /* request r handed to the server application */
byte g_s_delivered;                 /* requests delivered so far */
byte g_s_serving;                   /* the request the server application is answering */
byte g_c_out;                       /* the client's outstanding request */
byte g_c_answered;                  /* responses the client application received */
byte g_acked;                       /* server: DATA ACKs accepted in this epoch */
byte g_c_resp;                      /* client: DATA RESPONSEs accepted in this epoch */
byte g_rl_row[2];                   /* RESEND LASTs sent since the last new message sent or accepted */
byte g_close_tx[2];                 /* CLOSEs sent since entering WAIT CLOSE ACK */
bit g_clean[2];                     /* closed by CLOSE / CLOSE ACK exchange */
byte g_rekeyed;                     /* re-keys the client completed */
bit g_crossed[K_REQ + 1];           /* request r was kept by the server across a re-key */

/* ------------------------------------------------------------------ scratch (zeroed after each step) */
mtype cur_type;                     /* the message being received */
byte cur_seq, cur_ack, cur_ep, cur_rn, cur_req;
bit cur_clr, cur_bad, cur_big;
byte pi, ks, wi, sc_seq, sc_ep, sc_rn, kt;
int cm, nx;
int ob[3];
byte oblen, obi, eff, eff_kind, eff_ack, go;
mtype ktm, act, row_to, row_alt;
bit seq_refused, row_fault;

#define CLEAR_SCRATCH \
  cur_type = 0; cur_seq = 0; cur_ack = 0; cur_ep = 0; cur_rn = 0; cur_req = 0; cur_clr = 0; cur_bad = 0; cur_big = 0; \
  cm = 0; nx = 0; ob[0] = 0; ob[1] = 0; ob[2] = 0; oblen = 0; obi = 0; eff = 0; eff_kind = 0; eff_ack = 0; go = 0; \
  pi = 0; ks = 0; wi = 0; sc_seq = 0; sc_ep = 0; sc_rn = 0; kt = 0; ktm = 0; act = 0; row_to = 0; \
  row_alt = 0; seq_refused = 0; row_fault = 0

#define ESTABLISHED(me) (st[me] == IDLE || st[me] == WAIT_RESPONSE || st[me] == SERVING || \
  st[me] == WAIT_DATA_ACK || st[me] == REKEY_WAIT_HELLO_ACK || st[me] == REKEY_WAIT_ACK)
#define IS_REPLY(t) (t == HELLO_ACK || t == ACK || t == DATA_RESPONSE || t == DATA_ACK || t == CLOSE_ACK)
#define NEWER(me, f) k_##f[(me) * 2 + 1]
#define OLDER(me, f) k_##f[(me) * 2]

/* ------------------------------------------------------------------ the channel */
/* Send from side d: queued in the step's outbox, put in flight at its end
 * (flush_outbox), in sending order. A closed receiver ignores everything, so
 * nothing is queued for it. */
inline put(d, t, sq, ak, e, r, rq, cl) {
  assert(t >= HELLO && t <= CLOSED_WITHOUT_ACK && sq < 32 && ak < 32 && e < 4 && r < 62 && rq < 8 && oblen < 3);
  ob[oblen] = PACK(t, sq, ak, e, r, rq, cl);
  oblen++
}

inline flush_outbox(d) {
  do
  :: obi < oblen ->
     nx = ob[obi];
     if
     :: d == C -> printf("MSC: C sends %e seq=%d ack=%d ep=%d rn=%d req=%d clr=%d\n", M_TYPE(nx), M_SEQ(nx), M_ACK(nx), M_EP(nx), M_RN(nx), M_REQ(nx), M_CLR(nx))
     :: else -> printf("MSC:                                   S sends %e seq=%d ack=%d ep=%d rn=%d req=%d clr=%d\n", M_TYPE(nx), M_SEQ(nx), M_ACK(nx), M_EP(nx), M_RN(nx), M_REQ(nx), M_CLR(nx))
     fi;
     if
     :: st[1 - d] == CLOSED -> skip
     :: st[1 - d] != CLOSED && blen[d] >= CAP -> g_overflow = 1   /* the network drops what it cannot hold */
     :: st[1 - d] != CLOSED && blen[d] < CAP -> ins(d)
     fi;
     ob[obi] = 0;
     obi++
  :: else -> break
  od;
  obi = 0; oblen = 0; nx = 0
}

inline ins(d) {   /* append nx to side d's bag */
  bag[d * CAP + blen[d]] = nx;
  blen[d]++;
  nx = 0
}

/* Choose a message in flight from side d: the oldest, or (at most REORDER
 * times in a run) any other; of two equal neighbours only the first. */
#define PICK(d) if \
  :: pi = 0 \
  :: g_reord < REORDER && blen[d] > 1 && bag[d * CAP + 1] != bag[d * CAP + 0] -> pi = 1 \
  :: g_reord < REORDER && blen[d] > 2 && bag[d * CAP + 2] != bag[d * CAP + 1] -> pi = 2 \
  :: g_reord < REORDER && blen[d] > 3 && bag[d * CAP + 3] != bag[d * CAP + 2] -> pi = 3 \
  :: g_reord < REORDER && blen[d] > 4 && bag[d * CAP + 4] != bag[d * CAP + 3] -> pi = 4 \
  :: g_reord < REORDER && blen[d] > 5 && bag[d * CAP + 5] != bag[d * CAP + 4] -> pi = 5 \
  :: g_reord < REORDER && blen[d] > 6 && bag[d * CAP + 6] != bag[d * CAP + 5] -> pi = 6 \
  :: g_reord < REORDER && blen[d] > 7 && bag[d * CAP + 7] != bag[d * CAP + 6] -> pi = 7 \
  fi; \
  if \
  :: pi > 0 -> g_reord++ \
  :: else -> skip \
  fi

/* The channel's own choice (loss, duplication, corruption): any message. */
#define PICK_ANY(d) if \
  :: pi = 0 \
  :: blen[d] > 1 && bag[d * CAP + 1] != bag[d * CAP + 0] -> pi = 1 \
  :: blen[d] > 2 && bag[d * CAP + 2] != bag[d * CAP + 1] -> pi = 2 \
  :: blen[d] > 3 && bag[d * CAP + 3] != bag[d * CAP + 2] -> pi = 3 \
  :: blen[d] > 4 && bag[d * CAP + 4] != bag[d * CAP + 3] -> pi = 4 \
  :: blen[d] > 5 && bag[d * CAP + 5] != bag[d * CAP + 4] -> pi = 5 \
  :: blen[d] > 6 && bag[d * CAP + 6] != bag[d * CAP + 5] -> pi = 6 \
  :: blen[d] > 7 && bag[d * CAP + 7] != bag[d * CAP + 6] -> pi = 7 \
  fi

/* Remove message pi from side d's bag into cur. */
inline take(d) {
  cm = bag[d * CAP + pi];
  do
  :: pi + 1 < blen[d] -> bag[d * CAP + pi] = bag[d * CAP + pi + 1]; pi++
  :: else -> break
  od;
  blen[d]--;
  bag[d * CAP + blen[d]] = 0;
  pi = 0;
  cur_type = M_TYPE(cm); cur_seq = M_SEQ(cm); cur_ack = M_ACK(cm); cur_ep = M_EP(cm);
  cur_rn = M_RN(cm); cur_req = M_REQ(cm); cur_clr = M_CLR(cm); cur_bad = M_BAD(cm); cur_big = M_BIG(cm)
}

/* Flush what is in flight to a side that has closed. */
inline flush_to(me) {
  pi = 0;
  do
  :: pi < CAP -> bag[(1 - me) * CAP + pi] = 0; pi++
  :: else -> break
  od;
  pi = 0;
  blen[1 - me] = 0
}

/* ------------------------------------------------------------------ sending (engine.cpp) */
/* Seal a record under the current send key: a fresh record number. */
inline seal(me, t, sq, ak, rq) {
  assert(tx_ok[me]);
  sc_ep = tx_ep[me];
  sc_rn = rn_next[me * NEP + sc_ep];
  rn_next[me * NEP + sc_ep]++;
  put(me, t, sq, ak, sc_ep, sc_rn, rq, 0)
}

/* commit_tx: R5, seq advanced by the nonce (0 here); a new message ends a RESEND LAST row. */
inline commit_tx(me, sq, aw) {
  tx_seq[me] = sq;
  tx_next[me] = sq + 1;
  awaiting[me] = aw;
  resends[me] = 0;
  g_rl_row[me] = 0
}

#define KSWAP(f) kt = OLDER(me, f); OLDER(me, f) = NEWER(me, f); NEWER(me, f) = kt
inline keep_slot(me) {
  KSWAP(used); KSWAP(raw); KSWAP(clr); KSWAP(seq); KSWAP(ack); KSWAP(ep); KSWAP(rn); KSWAP(req);
  ktm = OLDER(me, type); OLDER(me, type) = NEWER(me, type); NEWER(me, type) = ktm;
  NEWER(me, used) = 0; NEWER(me, raw) = 0; NEWER(me, clr) = 0; NEWER(me, type) = 0; NEWER(me, seq) = 0;
  NEWER(me, ack) = 0; NEWER(me, ep) = 0; NEWER(me, rn) = 0; NEWER(me, req) = 0
}

/* send_message: a data-phase message, kept as plaintext, re-sealed on resend. */
inline send_message(me, t, rq, aw) {
  sc_seq = tx_next[me];
  keep_slot(me);
  NEWER(me, used) = 1; NEWER(me, type) = t; NEWER(me, seq) = sc_seq; NEWER(me, req) = rq;
  seal(me, t, sc_seq, rx_seq[me], rq);
  commit_tx(me, sc_seq, aw)
}

/* send_raw of a handshake record (initial ACK, re-key HELLO / HELLO ACK / ACK):
 * kept as sealed and resent byte for byte (same epoch and record number). */
inline send_raw_record(me, t, aw) {
  sc_seq = tx_next[me];
  keep_slot(me);
  assert(tx_ok[me]);
  sc_ep = tx_ep[me];
  sc_rn = rn_next[me * NEP + sc_ep];
  rn_next[me * NEP + sc_ep]++;
  NEWER(me, used) = 1; NEWER(me, raw) = 1; NEWER(me, type) = t; NEWER(me, seq) = sc_seq;
  NEWER(me, ack) = rx_seq[me]; NEWER(me, ep) = sc_ep; NEWER(me, rn) = sc_rn;
  put(me, t, sc_seq, rx_seq[me], sc_ep, sc_rn, 0, 0);
  commit_tx(me, sc_seq, aw)
}

/* send_raw of a clear frame (HELLO, HELLO ACK). */
inline send_raw_clear(me, t, ak, aw) {
  sc_seq = tx_next[me];
  keep_slot(me);
  NEWER(me, used) = 1; NEWER(me, raw) = 1; NEWER(me, clr) = 1; NEWER(me, type) = t;
  NEWER(me, seq) = sc_seq; NEWER(me, ack) = ak;
  put(me, t, sc_seq, ak, 0, 0, 0, 1);
  commit_tx(me, sc_seq, aw)
}

inline count_close(me) {
  g_close_tx[me]++;
#if PROP_CLOSE
  assert(g_close_tx[me] <= 1 + MAX_CLOSE_RETRIES);
#endif
  skip
}

/* retransmit(kept slot j): handshake messages byte for byte, data messages re-sealed
 * with a fresh record number and a fresh ack. */
inline retransmit(me, j) {
  if
  :: k_used[me * 2 + j] && k_raw[me * 2 + j] ->
     put(me, k_type[me * 2 + j], k_seq[me * 2 + j], k_ack[me * 2 + j], k_ep[me * 2 + j],
         k_rn[me * 2 + j], k_req[me * 2 + j], k_clr[me * 2 + j])
  :: k_used[me * 2 + j] && !k_raw[me * 2 + j] ->
     seal(me, k_type[me * 2 + j], k_seq[me * 2 + j], rx_seq[me], k_req[me * 2 + j])
  :: else -> skip
  fi;
  if
  :: k_used[me * 2 + j] && k_type[me * 2 + j] == CLOSE -> count_close(me)
  :: else -> skip
  fi
}

/* retransmit_after(ack): every kept message sent after the peer's last accepted one. */
inline retransmit_after(me, a) {
  if
  :: !NEWER(me, used) || NEWER(me, seq) == a -> skip
  :: else ->
     if
     :: OLDER(me, used) && OLDER(me, seq) != a -> retransmit(me, 0)
     :: else -> skip
     fi;
     retransmit(me, 1)
  fi
}

inline send_resend_last(me) {
  seal(me, RESEND_LAST, tx_seq[me], rx_seq[me], 0);
  g_rl_row[me]++;
#if PROP_RL
  assert(g_rl_row[me] <= MAX_RESENDS);
#endif
  skip
}

inline send_clear_close(me) {
  put(me, CLOSE, tx_next[me], rx_seq[me], 0, 0, 0, 1)
}

/* ------------------------------------------------------------------ faults and close */
/* enter_closed: keys wiped. The engine keeps its counters, but a closed engine
 * never reads them again, so they are zeroed to keep the state space small. */
inline enter_closed(me) {
  st[me] = CLOSED;
  flush_to(me);
  awaiting[me] = 0; resends[me] = 0; rx_resends[me] = 0; close_retries[me] = 0;
  tx_ok[me] = 0; ntx_ok[me] = 0; rx_ok[me] = 0; nrx_ok[me] = 0; prx_ok[me] = 0;
  tx_ep[me] = 0; ntx_ep[me] = 0; rx_ep[me] = 0; nrx_ep[me] = 0; prx_ep[me] = 0;
  tx_seq[me] = 0; tx_next[me] = 0; rx_seq[me] = 0; rx_next[me] = 0; rx_type[me] = 0;
  rx_any[me] = 0; responses[me] = 0; g_rl_row[me] = 0;
  OLDER(me, used) = 0; OLDER(me, raw) = 0; OLDER(me, clr) = 0; OLDER(me, type) = 0; OLDER(me, seq) = 0;
  OLDER(me, ack) = 0; OLDER(me, ep) = 0; OLDER(me, rn) = 0; OLDER(me, req) = 0;
  NEWER(me, used) = 0; NEWER(me, raw) = 0; NEWER(me, clr) = 0; NEWER(me, type) = 0; NEWER(me, seq) = 0;
  NEWER(me, ack) = 0; NEWER(me, ep) = 0; NEWER(me, rn) = 0; NEWER(me, req) = 0
}

/* fail: seed "timer or invalid message -> snd CLOSE -> WAIT CLOSE ACK". */
inline fail(me) {
  row_fault = 1;
  if
  :: st[me] == CLOSED || st[me] == WAIT_CLOSE_ACK -> skip
  :: ESTABLISHED(me) ->
     send_message(me, CLOSE, 0, 0);
     st[me] = WAIT_CLOSE_ACK;
     close_retries[me] = 0;
     g_close_tx[me] = 0;
     count_close(me)
  :: else ->
     if
     :: st[me] != START || me == S -> send_clear_close(me)
     :: else -> skip
     fi;
     enter_closed(me)
  fi
}

/* While a message is received, fault / fail / retransmit_after / RESEND LAST
 * (each the last thing its code path does) are recorded in `eff` and carried out
 * once at the end of the step by apply_effects: one copy of the code instead of
 * one per call site. */
#define E_FAULT 1
#define E_FAIL 2
#define E_RTA 4             /* may be combined with E_RL (a RESEND LAST answered both ways) */
#define E_RL 8
#define F_REPLAY 1
#define F_SOFT 2
#define F_UNAUTH 3           /* did not authenticate: tolerant drops it without effect (§8.6) */

inline fault(me, kind) { assert(eff == 0); eff = E_FAULT; eff_kind = kind }
inline req_fail(me) { assert(eff == 0); eff = E_FAIL; row_fault = 1 }
inline req_retransmit_after(me, a) { assert(eff == 0); eff = E_RTA; eff_ack = a }
inline req_resend_last(me) { assert(eff == 0 || eff == E_RTA); eff = eff | E_RL }

/* fault: the policy decides (PROTOCOL.md §8.5). kind: 1 replay, 2 recoverable, 3 unauthenticated. */
inline apply_effects(me) {
  if
  :: eff == E_FAULT ->
#if TOLERANT
     if
     :: eff_kind == F_REPLAY -> eff = 0                          /* a duplicated datagram: dropped */
     :: eff_kind == F_UNAUTH -> eff = 0                          /* unauthenticated: no RESEND LAST */
     :: eff_kind == F_SOFT && !ESTABLISHED(me) -> eff = 0        /* nothing authenticated to answer with */
     :: eff_kind == F_SOFT && ESTABLISHED(me) -> eff = E_RL
     fi
#else
     eff = E_FAIL
#endif
  :: else -> skip
  fi;
  if
  :: eff == E_FAIL -> fail(me)
  :: else -> skip
  fi;
  if
  :: eff & E_RTA -> retransmit_after(me, eff_ack)
  :: else -> skip
  fi;
  /* engine: send_resend_last counts every RESEND LAST (a fault's, or the answer
   * to the peer's) against max_resends and fails once they are used up */
  if
  :: eff & E_RL ->
     if
     :: resends[me] >= MAX_RESENDS -> fail(me)
     :: else -> resends[me]++; send_resend_last(me)
     fi
  :: else -> skip
  fi
}

/* ------------------------------------------------------------------ the transition table */
/* One guard per row of kTransitions (src/handshake/table.cpp), in the table's
 * order; ROW(action, to, alt). Every cell not listed rejects the message. */
#define ROW(a, t, l) act = a; row_to = t; row_alt = l

inline c_lookup() {
  if
  :: (st[C] == WAIT_HELLO_ACK && cur_type == HELLO_ACK) -> ROW(on_hello_ack, IDLE, IDLE) /* row: client wait_hello_ack hello_ack on_hello_ack idle idle */
  :: (st[C] == IDLE && cur_type == HELLO) -> ROW(on_rekey_hello, REKEY_WAIT_ACK, REKEY_WAIT_ACK) /* row: client idle hello on_rekey_hello rekey_wait_ack rekey_wait_ack */
  :: (st[C] == WAIT_RESPONSE && cur_type == HELLO) -> ROW(on_rekey_hello, REKEY_WAIT_ACK, REKEY_WAIT_ACK) /* row: client wait_response hello on_rekey_hello rekey_wait_ack rekey_wait_ack */
  :: (st[C] == WAIT_RESPONSE && cur_type == DATA_RESPONSE) -> ROW(on_data_response, IDLE, IDLE) /* row: client wait_response data_response on_data_response idle idle */
  :: (st[C] == REKEY_WAIT_ACK && cur_type == ACK) -> ROW(on_rekey_ack, IDLE, WAIT_RESPONSE) /* row: client rekey_wait_ack ack on_rekey_ack idle wait_response */
  :: (st[C] == IDLE && cur_type == RESEND_LAST) -> ROW(on_resend_last, IDLE, IDLE) /* row: client idle resend_last on_resend_last idle idle */
  :: (st[C] == IDLE && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: client idle close on_close closed closed */
  :: (st[C] == IDLE && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: client idle closed_without_ack on_closed_without_ack closed closed */
  :: (st[C] == WAIT_RESPONSE && cur_type == RESEND_LAST) -> ROW(on_resend_last, WAIT_RESPONSE, WAIT_RESPONSE) /* row: client wait_response resend_last on_resend_last wait_response wait_response */
  :: (st[C] == WAIT_RESPONSE && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: client wait_response close on_close closed closed */
  :: (st[C] == WAIT_RESPONSE && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: client wait_response closed_without_ack on_closed_without_ack closed closed */
  :: (st[C] == REKEY_WAIT_ACK && cur_type == RESEND_LAST) -> ROW(on_resend_last, REKEY_WAIT_ACK, REKEY_WAIT_ACK) /* row: client rekey_wait_ack resend_last on_resend_last rekey_wait_ack rekey_wait_ack */
  :: (st[C] == REKEY_WAIT_ACK && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: client rekey_wait_ack close on_close closed closed */
  :: (st[C] == REKEY_WAIT_ACK && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: client rekey_wait_ack closed_without_ack on_closed_without_ack closed closed */
  :: (st[C] == WAIT_CLOSE_ACK && cur_type == CLOSE_ACK) -> ROW(on_close_ack, CLOSED, CLOSED) /* row: client wait_close_ack close_ack on_close_ack closed closed */
  :: (st[C] == WAIT_CLOSE_ACK && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: client wait_close_ack close on_close closed closed */
  :: (st[C] == WAIT_CLOSE_ACK && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: client wait_close_ack closed_without_ack on_closed_without_ack closed closed */
  :: (st[C] == WAIT_CLOSE_ACK && cur_type == DATA_RESPONSE) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: client wait_close_ack data_response ignore wait_close_ack wait_close_ack */
  :: (st[C] == WAIT_CLOSE_ACK && cur_type == RESEND_LAST) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: client wait_close_ack resend_last ignore wait_close_ack wait_close_ack */
  :: (st[C] == WAIT_CLOSE_ACK && cur_type == HELLO) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: client wait_close_ack hello ignore wait_close_ack wait_close_ack */
  :: (st[C] == WAIT_CLOSE_ACK && cur_type == ACK) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: client wait_close_ack ack ignore wait_close_ack wait_close_ack */
  :: else -> act = no_row
  fi
}

inline s_lookup() {
  if
  :: (st[S] == START && cur_type == HELLO) -> ROW(on_hello, WAIT_ACK, WAIT_ACK) /* row: server start hello on_hello wait_ack wait_ack */
  :: (st[S] == WAIT_ACK && cur_type == ACK) -> ROW(on_ack, IDLE, IDLE) /* row: server wait_ack ack on_ack idle idle */
  :: (st[S] == IDLE && cur_type == DATA_REQUEST) -> ROW(on_data_request, SERVING, SERVING) /* row: server idle data_request on_data_request serving serving */
  :: (st[S] == WAIT_DATA_ACK && cur_type == DATA_ACK) -> ROW(on_data_ack, IDLE, REKEY_WAIT_HELLO_ACK) /* row: server wait_data_ack data_ack on_data_ack idle rekey_wait_hello_ack */
  :: (st[S] == REKEY_WAIT_HELLO_ACK && cur_type == DATA_REQUEST) -> ROW(stash_request, REKEY_WAIT_HELLO_ACK, REKEY_WAIT_HELLO_ACK) /* row: server rekey_wait_hello_ack data_request stash_request rekey_wait_hello_ack rekey_wait_hello_ack */
  :: (st[S] == REKEY_WAIT_HELLO_ACK && cur_type == HELLO_ACK) -> ROW(on_rekey_hello_ack, IDLE, SERVING) /* row: server rekey_wait_hello_ack hello_ack on_rekey_hello_ack idle serving */
  :: (st[S] == IDLE && cur_type == RESEND_LAST) -> ROW(on_resend_last, IDLE, IDLE) /* row: server idle resend_last on_resend_last idle idle */
  :: (st[S] == IDLE && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: server idle close on_close closed closed */
  :: (st[S] == IDLE && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: server idle closed_without_ack on_closed_without_ack closed closed */
  :: (st[S] == SERVING && cur_type == RESEND_LAST) -> ROW(on_resend_last, SERVING, SERVING) /* row: server serving resend_last on_resend_last serving serving */
  :: (st[S] == SERVING && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: server serving close on_close closed closed */
  :: (st[S] == SERVING && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: server serving closed_without_ack on_closed_without_ack closed closed */
  :: (st[S] == WAIT_DATA_ACK && cur_type == RESEND_LAST) -> ROW(on_resend_last, WAIT_DATA_ACK, WAIT_DATA_ACK) /* row: server wait_data_ack resend_last on_resend_last wait_data_ack wait_data_ack */
  :: (st[S] == WAIT_DATA_ACK && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: server wait_data_ack close on_close closed closed */
  :: (st[S] == WAIT_DATA_ACK && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: server wait_data_ack closed_without_ack on_closed_without_ack closed closed */
  :: (st[S] == REKEY_WAIT_HELLO_ACK && cur_type == RESEND_LAST) -> ROW(on_resend_last, REKEY_WAIT_HELLO_ACK, REKEY_WAIT_HELLO_ACK) /* row: server rekey_wait_hello_ack resend_last on_resend_last rekey_wait_hello_ack rekey_wait_hello_ack */
  :: (st[S] == REKEY_WAIT_HELLO_ACK && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: server rekey_wait_hello_ack close on_close closed closed */
  :: (st[S] == REKEY_WAIT_HELLO_ACK && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: server rekey_wait_hello_ack closed_without_ack on_closed_without_ack closed closed */
  :: (st[S] == WAIT_CLOSE_ACK && cur_type == CLOSE_ACK) -> ROW(on_close_ack, CLOSED, CLOSED) /* row: server wait_close_ack close_ack on_close_ack closed closed */
  :: (st[S] == WAIT_CLOSE_ACK && cur_type == CLOSE) -> ROW(on_close, CLOSED, CLOSED) /* row: server wait_close_ack close on_close closed closed */
  :: (st[S] == WAIT_CLOSE_ACK && cur_type == CLOSED_WITHOUT_ACK) -> ROW(on_closed_without_ack, CLOSED, CLOSED) /* row: server wait_close_ack closed_without_ack on_closed_without_ack closed closed */
  :: (st[S] == WAIT_CLOSE_ACK && cur_type == DATA_REQUEST) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: server wait_close_ack data_request ignore wait_close_ack wait_close_ack */
  :: (st[S] == WAIT_CLOSE_ACK && cur_type == DATA_ACK) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: server wait_close_ack data_ack ignore wait_close_ack wait_close_ack */
  :: (st[S] == WAIT_CLOSE_ACK && cur_type == RESEND_LAST) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: server wait_close_ack resend_last ignore wait_close_ack wait_close_ack */
  :: (st[S] == WAIT_CLOSE_ACK && cur_type == HELLO_ACK) -> ROW(ignore, WAIT_CLOSE_ACK, WAIT_CLOSE_ACK) /* row: server wait_close_ack hello_ack ignore wait_close_ack wait_close_ack */
  :: else -> act = no_row
  fi
}

inline lookup(me) {
  if
  :: me == C -> c_lookup()
  :: else -> s_lookup()
  fi
}

/* ------------------------------------------------------------------ handlers */
inline deliver_request(r) {   /* EventKind::request */
#if PROP_REQ
  assert(r >= 1 && !g_delivered[r]);
  assert(r == g_s_delivered + 1);          /* in order, exactly once */
#endif
  g_delivered[r] = 1;
  g_s_delivered++;
  g_s_serving = r
}

/* client_start: HELLO (clear), WAIT HELLO ACK */
inline client_start() {
  tx_next[C] = 1;
  st[C] = WAIT_HELLO_ACK;
  send_raw_clear(C, HELLO, 0, 1)
}

/* on_hello (server, START): HELLO ACK (clear), handshake keys (epoch 0) */
inline s_on_hello() {
  rx_any[S] = 1; rx_seq[S] = cur_seq; rx_type[S] = HELLO; rx_next[S] = cur_seq + 1;
  tx_ep[S] = 0; tx_ok[S] = 1; rx_ep[S] = 0; rx_ok[S] = 1;
  tx_next[S] = 1;
  st[S] = WAIT_ACK;
  send_raw_clear(S, HELLO_ACK, cur_seq, 1)
}

/* on_hello_ack (client): ACK under the epoch-0 key, then epoch 1 */
inline c_on_hello_ack() {
  rx_any[C] = 1; rx_seq[C] = cur_seq; rx_type[C] = HELLO_ACK; rx_next[C] = cur_seq + 1;
  g_rl_row[C] = 0;
  tx_ep[C] = 0; tx_ok[C] = 1;
  send_raw_record(C, ACK, 0);
  tx_ep[C] = 1; rx_ep[C] = 1; rx_ok[C] = 1;
  epoch[C] = 1;
  st[C] = IDLE
}

/* on_ack (server): epoch 1 */
inline s_on_ack() {
  WWIPE(S * NEP + 0);
  tx_ep[S] = 1; rx_ep[S] = 1;
  epoch[S] = 1;
  st[S] = IDLE;
  awaiting[S] = 0
}

/* install_epoch: next -> current; the server keeps the old receive key */
inline install_epoch(me) {
  if
  :: me == S ->
     if
     :: prx_ok[S] -> WWIPE(S * NEP + prx_ep[S])
     :: else -> skip
     fi;
     prx_ep[S] = rx_ep[S]; prx_ok[S] = rx_ok[S]
  :: else -> WWIPE(C * NEP + rx_ep[C])
  fi;
  rx_ep[me] = nrx_ep[me]; rx_ok[me] = nrx_ok[me];
  tx_ep[me] = ntx_ep[me]; tx_ok[me] = ntx_ok[me];
  nrx_ep[me] = 0; nrx_ok[me] = 0; ntx_ep[me] = 0; ntx_ok[me] = 0;
  epoch[me]++;
  responses[me] = 0
}

/* start_rekey (server, IDLE): re-key HELLO under the current key */
inline start_rekey() {
#if PROP_REKEY
  assert(g_acked == N_REKEY);
#endif
  st[S] = REKEY_WAIT_HELLO_ACK;
  send_raw_record(S, HELLO, 1)
}

/* on_rekey_hello (client): HELLO ACK under the current key; next keys ready */
inline c_on_rekey_hello() {
#if PROP_REKEY
  assert(g_c_resp == N_REKEY);
#endif
  ntx_ep[C] = epoch[C] + 1; ntx_ok[C] = 1; nrx_ep[C] = epoch[C] + 1; nrx_ok[C] = 1;
  st[C] = REKEY_WAIT_ACK;
  send_raw_record(C, HELLO_ACK, 1)
}

/* process_stash (server): a request kept across the re-key is served now */
inline process_stash() {
  if
  :: stash_used && stash_checked && st[S] == IDLE ->
     stash_used = 0; stash_checked = 0;
     st[S] = SERVING;
     awaiting[S] = 0;
     deliver_request(stash_req);
     stash_seq = 0; stash_req = 0
  :: else -> skip
  fi
}

/* adopt_early_stash (server): an early request now fits, or is stale */
inline adopt_early_stash() {
  if
  :: !stash_used || stash_checked -> skip
  :: else ->
     if
     :: stash_seq != rx_next[S] -> stash_used = 0; stash_seq = 0; stash_req = 0
     :: else ->
        rx_seq[S] = stash_seq; rx_type[S] = DATA_REQUEST; rx_next[S] = stash_seq + 1;
        stash_checked = 1
     fi
  fi
}

/* on_rekey_hello_ack (server): install epoch n+1, ACK under it, serve a kept request */
inline s_on_rekey_hello_ack() {
  ntx_ep[S] = epoch[S] + 1; ntx_ok[S] = 1; nrx_ep[S] = epoch[S] + 1; nrx_ok[S] = 1;
  install_epoch(S);
  g_acked = 0;
  st[S] = IDLE;
  send_raw_record(S, ACK, 0);
  process_stash()
}

/* on_rekey_ack (client): install epoch n+1 */
inline c_on_rekey_ack() {
  install_epoch(C);
  g_rekeyed++;
  g_c_resp = 0;
  if
  :: req_out -> st[C] = WAIT_RESPONSE; awaiting[C] = 1
  :: else -> st[C] = IDLE; awaiting[C] = 0
  fi
}

inline s_on_data_request() {
  st[S] = SERVING;
  awaiting[S] = 0;
  deliver_request(cur_req)
}

inline s_stash_request() {
  if
  :: stash_used && stash_checked -> req_fail(S)
  :: else ->
     stash_used = 1; stash_checked = 1; stash_seq = cur_seq; stash_req = cur_req;
     g_crossed[cur_req] = 1
  fi
}

inline c_on_data_response() {
#if PROP_REQ
  assert(cur_req == g_c_out);              /* the answer to the outstanding request */
#endif
#if COVER
  assert(!g_crossed[cur_req]);             /* expected to fail: such a run exists */
#endif
  req_out = 0;
  st[C] = IDLE;
  send_message(C, DATA_ACK, 0, 0);
  g_c_answered++;
  g_c_resp++;
  g_c_out = 0
}

inline s_on_data_ack() {
  awaiting[S] = 0;
  st[S] = IDLE;
  responses[S]++;
  g_acked++;
  adopt_early_stash();
  if
  :: st[S] == IDLE && responses[S] >= N_REKEY -> start_rekey()
  :: else -> process_stash()
  fi;
#if PROP_REKEY
  assert(g_acked < N_REKEY || st[S] == REKEY_WAIT_HELLO_ACK);   /* the N-th ack starts the re-key */
#endif
  skip
}

inline do_close(me) {
  seal(me, CLOSE_ACK, tx_next[me], rx_seq[me], 0);
  g_clean[me] = 1;
  enter_closed(me)
}

inline do_close_ack(me) {
  g_clean[me] = 1;
  enter_closed(me)
}

inline run_action(me) {
  if
  :: act == on_hello -> s_on_hello()
  :: act == on_hello_ack -> c_on_hello_ack()
  :: act == on_ack -> s_on_ack()
  :: act == on_rekey_hello -> c_on_rekey_hello()
  :: act == on_rekey_hello_ack -> s_on_rekey_hello_ack()
  :: act == on_rekey_ack -> c_on_rekey_ack()
  :: act == on_data_request -> s_on_data_request()
  :: act == stash_request -> s_stash_request()
  :: act == on_data_response -> c_on_data_response()
  :: act == on_data_ack -> s_on_data_ack()
  :: act == on_close -> do_close(me)
  :: act == on_close_ack -> do_close_ack(me)
  :: act == on_closed_without_ack -> enter_closed(me)
  :: else -> assert(false)   /* on_resend_last and ignore are handled in dispatch */
  fi
}

/* Run a row's handler; it must end in the row's `to` or `alt` state unless it
 * failed (CLOSE). One exception, documented in README.md: on_data_ack also ends
 * in SERVING when an early request kept under the tolerant policy is served
 * (process_stash); table.cpp has room for one alternative only. */
inline handle_row(me) {
  row_fault = 0;
  run_action(me);
#if PROP_ROW
  assert(row_fault || st[me] == row_to || st[me] == row_alt ||
         (act == on_data_ack && st[me] == SERVING && TOLERANT));
#endif
  skip
}

/* ------------------------------------------------------------------ receiving */
/* commit_rx: accept a new message from the peer (spec §8.1). */
inline commit_rx(me) {
  rx_any[me] = 1; rx_seq[me] = cur_seq; rx_type[me] = cur_type; rx_next[me] = cur_seq + 1
}

inline accept(me) {   /* dispatch: the sequence number is committed, the resend counters reset */
  commit_rx(me);
  resends[me] = 0; rx_resends[me] = 0;
  g_rl_row[me] = 0
}

/* Engine::sent_recently / seen_recently (rings of the last 4): every side's new
 * messages carry consecutive numbers here (nonces are 0) and the accepted ones
 * are a prefix of the peer's, so the rings are ranges. */
#define SENT_RECENTLY(me, a) ((a) >= 1 && (a) <= tx_seq[me] && tx_seq[me] - (a) < 4)
#define SEEN_RECENTLY(me, q) (rx_any[me] && (q) >= 1 && (q) <= rx_seq[me] && rx_seq[me] - (q) < 4)

inline dispatch(me) {
  if
  :: (cur_type == DATA_REQUEST || cur_type == DATA_RESPONSE) && cur_big ->
     /* an authenticated body over our max_data: fatal under both policies, before
      * the ttl and the table, wherever the message would go (spec §8.6 step 3) */
     req_fail(me)
  :: else ->
    lookup(me);
    if
    :: cur_type == RESEND_LAST || cur_type == CLOSED_WITHOUT_ACK ->
       /* no sequence number the peer could have missed: place and body only */
       if
       :: act == no_row -> fault(me, F_SOFT)
       :: act == on_closed_without_ack -> go = 2      /* receive_c: closed */
       :: act == ignore -> skip
       :: act == on_resend_last ->
          rx_resends[me]++;
          if
          :: rx_resends[me] > 2 * MAX_RESENDS -> req_fail(me)
          :: else ->
             if
             :: !(NEWER(me, used) && NEWER(me, seq) == cur_ack) ->
                req_retransmit_after(me, cur_ack)     /* the peer lacks what we sent */
             :: else -> skip
             fi;
             if
             :: cur_seq != rx_seq[me] -> req_resend_last(me)   /* we lack the peer's message */
             :: else -> skip
             fi
          fi
       fi
    :: cur_type != RESEND_LAST && cur_type != CLOSED_WITHOUT_ACK && act == ignore ->
       /* WAIT CLOSE ACK: what crossed our CLOSE is dropped, its sequence number counts */
       if
       :: cur_seq == rx_next[me] -> commit_rx(me)
       :: else -> skip
       fi
    :: cur_type != RESEND_LAST && cur_type != CLOSED_WITHOUT_ACK && act != ignore &&
       rx_any[me] && cur_seq == rx_seq[me] && cur_type == rx_type[me] ->
       /* a duplicate of the last accepted message: dropped, nothing resent in answer (§8.4) */
  #if TOLERANT
       skip
  #else
       req_fail(me)
  #endif
    :: else ->
       if
       :: TOLERANT && cur_seq != rx_next[me] && SEEN_RECENTLY(me, cur_seq) ->
          skip                                         /* a late copy of an older message: dropped */
       :: (!TOLERANT || !SEEN_RECENTLY(me, cur_seq)) && cur_seq != rx_next[me] ->
          if
          :: TOLERANT && me == S && cur_type == DATA_REQUEST && !stash_used ->
             /* an early DATA REQUEST (its DATA ACK late or lost): kept, not accepted */
             stash_used = 1; stash_checked = 0; stash_seq = cur_seq; stash_req = cur_req
          :: else ->
             seq_refused = TOLERANT;
             fault(me, F_SOFT)
          fi
       :: cur_seq == rx_next[me] ->
          if
          :: IS_REPLY(cur_type) && cur_ack != tx_seq[me] -> fault(me, F_SOFT)
          :: !IS_REPLY(cur_type) && !SENT_RECENTLY(me, cur_ack) -> fault(me, F_SOFT)
          :: else ->
             if
             :: act == no_row -> fault(me, F_SOFT)
             :: else -> accept(me); go = 2   /* receive_c runs the handler */
             fi
          fi
       fi
    fi
  fi
}

#define KEYSLOT_VALID(me) ((ks == 0 && rx_ok[me]) || (ks == 1 && nrx_ok[me]) || (ks == 2 && prx_ok[me]))

inline receive_record(me) {
  if
  :: rx_ok[me] && cur_ep == rx_ep[me] -> ks = 0
  :: else ->
     if
     :: nrx_ok[me] && cur_ep == nrx_ep[me] -> ks = 1
     :: else ->
        if
        :: prx_ok[me] && cur_ep == prx_ep[me] -> ks = 2
        :: else -> ks = 3
        fi
     fi
  fi;
  if
  :: ks == 3 -> fault(me, F_UNAUTH)      /* old_epoch, or no keys yet: unexpected_message */
  :: else ->
     wi = me * NEP + cur_ep;
     if
     :: WSEEN(wi, cur_rn) -> fault(me, F_REPLAY)
     :: else ->
        if
        :: cur_bad -> fault(me, F_UNAUTH)  /* bad_mac: not marked */
        :: else ->
           WMARK(wi, cur_rn);
           if
           :: ks == 0 && prx_ok[me] -> WWIPE(me * NEP + prx_ep[me]); prx_ok[me] = 0; prx_ep[me] = 0
           :: else -> skip
           fi;
           seq_refused = 0;
           go = 1                        /* receive_b dispatches */
        fi
     fi
  fi
}

inline receive_clear(me) {
  if
  :: cur_type == HELLO ->
     if
     :: me == S && st[S] == START ->
        lookup(me); assert(act == on_hello); go = 2
     :: me == S && TOLERANT && st[S] == WAIT_ACK ->
        retransmit(me, 1)              /* the same HELLO: our HELLO ACK was lost */
     :: else -> fault(me, F_UNAUTH)
     fi
  :: cur_type == HELLO_ACK ->
     if
     :: me == C && st[C] == WAIT_HELLO_ACK ->
        lookup(me); assert(act == on_hello_ack); go = 2
     :: me == C && TOLERANT && ESTABLISHED(C) && epoch[C] == 1 && cur_seq == rx_seq[C] ->
        req_retransmit_after(me, cur_ack)  /* the HELLO ACK again: our ACK was lost */
     :: else -> fault(me, F_UNAUTH)
     fi
  :: else ->                           /* the unauthenticated clear CLOSE */
     assert(cur_type == CLOSE);
     if
     :: (st[me] == WAIT_HELLO_ACK || st[me] == WAIT_ACK) && cur_ack == tx_seq[me] -> enter_closed(me)  /* answers our initial seq */
     :: else -> skip
     fi
  fi
}

/* receive(), in stages (each one atomic step of the verifier's C code; the
 * whole is one indivisible step of the model): a: frame, keys, replay window;
 * b: dispatch (RESEND LAST, duplicates, sequence and ack checks, the table);
 * c: the row's handler; d: a record refused for its sequence number is
 * forgotten by the window (tolerant). */
inline receive_a(me) {
  if
  :: me == C -> printf("MSC: C (%e) receives %e seq=%d ack=%d ep=%d rn=%d req=%d clr=%d bad=%d\n", st[me], cur_type, cur_seq, cur_ack, cur_ep, cur_rn, cur_req, cur_clr, cur_bad)
  :: else -> printf("MSC:                                   S (%e) receives %e seq=%d ack=%d ep=%d rn=%d req=%d clr=%d bad=%d\n", st[me], cur_type, cur_seq, cur_ack, cur_ep, cur_rn, cur_req, cur_clr, cur_bad)
  fi;
  if
  :: st[me] == CLOSED -> skip              /* Err::closed */
  :: st[me] != CLOSED && cur_clr -> receive_clear(me)
  :: st[me] != CLOSED && !cur_clr -> receive_record(me)
  fi
}

inline receive_b(me) {
  if
  :: go == 1 -> dispatch(me)
  :: else -> skip
  fi
}

inline receive_c(me) {
  if
  :: go == 2 -> handle_row(me)
  :: else -> skip
  fi
}

inline receive_d(me) {
  if
  :: seq_refused && KEYSLOT_VALID(me) -> WUNMARK(wi, cur_rn)
  :: else -> skip
  fi
}

#define RECEIVE(me, d) atomic { blen[d] > 0 -> PICK(d); d_step { take(d); receive_a(me) }; \
  d_step { receive_b(me) }; d_step { receive_c(me) }; d_step { receive_d(me); apply_effects(me) }; \
  d_step { flush_outbox(me); check_invariants(); CLEAR_SCRATCH } }

/* ------------------------------------------------------------------ timers (on_timeout) */
inline on_timeout(me) {
  if
  :: me == C -> printf("MSC: C timer expires in %e\n", st[me])
  :: else -> printf("MSC:                                   S timer expires in %e\n", st[me])
  fi;
  if
  :: st[me] == WAIT_CLOSE_ACK && close_retries[me] < MAX_CLOSE_RETRIES ->
     close_retries[me]++;
     retransmit(me, 1)
  :: st[me] == WAIT_CLOSE_ACK && close_retries[me] >= MAX_CLOSE_RETRIES ->
#if PROP_CLOSE
     assert(g_close_tx[me] == 1 + MAX_CLOSE_RETRIES);
#endif
     seal(me, CLOSED_WITHOUT_ACK, tx_seq[me], rx_seq[me], 0);   /* seq: the peer may never have seen our CLOSE */
     enter_closed(me)
  :: st[me] != WAIT_CLOSE_ACK && me == S && st[S] == IDLE && responses[S] >= N_REKEY ->
     start_rekey()
  :: else ->
     if
     :: TOLERANT && awaiting[me] && resends[me] >= MAX_RESENDS -> fail(me)
     :: TOLERANT && awaiting[me] && resends[me] < MAX_RESENDS ->
        resends[me]++;
        if
        :: st[me] == WAIT_HELLO_ACK || st[me] == WAIT_ACK -> retransmit(me, 1)
        :: else -> send_resend_last(me)
        fi
     :: else -> fail(me)
     fi
  fi
}

/* The engine has a deadline in every state but START and CLOSED (next_deadline).
 * A timer expires when nothing else can happen (Promela's timeout: every
 * message in flight delivered or lost, both applications waiting), and at most
 * EARLY times in a run at any other moment (a timer racing a message). */
#define ARMED(me) (st[me] != START && st[me] != CLOSED)
#define TIMER(me) \
  :: atomic { timeout && ARMED(me) -> d_step { on_timeout(me); flush_outbox(me); check_invariants(); CLEAR_SCRATCH } } \
  :: atomic { g_early < EARLY && ARMED(me) -> g_early++; \
              d_step { on_timeout(me); flush_outbox(me); check_invariants(); CLEAR_SCRATCH } }

/* ------------------------------------------------------------------ invariants */
/* No DATA REQUEST is lost: once the server's sequence numbers have moved past
 * request r, r was handed to the application or is kept for after the re-key
 * (or the server is closing: the client learns it from CLOSE). */
#define REQ_SAFE(r) (r > c_reqs || st[S] == CLOSED || st[S] == WAIT_CLOSE_ACK || !rx_any[S] || \
  rx_next[S] <= g_req_seq[r] || g_delivered[r] || (stash_used && stash_checked && stash_req == r))

inline check_invariants() {
#if PROP_REQ
  assert(REQ_SAFE(1));
#if K_REQ >= 2
  assert(REQ_SAFE(2));
#endif
#if K_REQ >= 3
  assert(REQ_SAFE(3));
#endif
#if K_REQ >= 4
  assert(REQ_SAFE(4));
#endif
#endif
  skip
}

/* ------------------------------------------------------------------ processes */
proctype Client() {
  d_step { client_start(); flush_outbox(C); CLEAR_SCRATCH }
  do
  :: st[C] == CLOSED -> break
  :: RECEIVE(C, S)
  TIMER(C)
  :: d_step { st[C] == IDLE && c_reqs < K_REQ ->          /* send_request */
       c_reqs++;
       g_c_out = c_reqs;
       g_req_seq[c_reqs] = tx_next[C];
       send_message(C, DATA_REQUEST, c_reqs, 1);
       req_out = 1;
       st[C] = WAIT_RESPONSE;
       flush_outbox(C);
       CLEAR_SCRATCH }
  :: d_step { st[C] == IDLE && c_reqs == K_REQ ->         /* close(): done */
       send_message(C, CLOSE, 0, 0);
       st[C] = WAIT_CLOSE_ACK;
       close_retries[C] = 0;
       g_close_tx[C] = 0;
       count_close(C);
       flush_outbox(C);
       CLEAR_SCRATCH }
  od
}

proctype Server() {
  do
  :: st[S] == CLOSED -> break
  :: st[S] == START && st[C] == CLOSED && blen[C] == 0 -> break   /* never heard of: the transport reaps it */
  :: RECEIVE(S, C)
  TIMER(S)
  :: d_step { st[S] == SERVING ->                          /* send_response */
#if PROP_REKEY
       assert(g_acked < N_REKEY);                          /* no response beyond N in an epoch */
#endif
       send_message(S, DATA_RESPONSE, g_s_serving, 1);
       g_s_serving = 0;
       st[S] = WAIT_DATA_ACK;
       flush_outbox(S);
       CLEAR_SCRATCH }
  od
}

/* Corrupt record k in flight from side d (a bad MAC); clear frames are not
 * corrupted (a corrupted HELLO or HELLO ACK fails the handshake, a DoS the
 * model does not need to show). Enabled only where it changes something. */
#define CAN_CORRUPT(d, k) (g_bad < CORRUPT && blen[d] > k && M_CLR(bag[d * CAP + k]) == 0 && M_BAD(bag[d * CAP + k]) == 0)
#define CORRUPT_AT(d, k) :: atomic { CAN_CORRUPT(d, k) -> bag[d * CAP + k] = bag[d * CAP + k] | 1; g_bad++ }
/* A data message made one whose body is over its receiver's max_data (BIG):
 * the peer's configuration, not the channel, but marked here like corruption. */
#define CAN_BIG(d, k) (g_big < BIG && blen[d] > k && M_BIG(bag[d * CAP + k]) == 0 && \
  (M_TYPE(bag[d * CAP + k]) == DATA_REQUEST || M_TYPE(bag[d * CAP + k]) == DATA_RESPONSE))
#define BIG_AT(d, k) :: atomic { CAN_BIG(d, k) -> bag[d * CAP + k] = bag[d * CAP + k] | (1 << 27); g_big++ }

/* Duplicate message pi from side d. */
inline dup(d) {
  nx = bag[d * CAP + pi];
  printf("MSC:                 (duplicated %e seq=%d)\n", M_TYPE(nx), M_SEQ(nx));
  ins(d);
  g_dup++
}

/* The channel: loses, duplicates, corrupts (bounded), and by PICK reorders;
 * within BIG it also stands for a peer with a larger max_data. */
proctype Network() {
end:
  do
  :: atomic { g_loss < LOSS && blen[C] > 0 -> PICK_ANY(C); take(C); g_loss++;
       printf("MSC:                 (lost C->S %e seq=%d)\n", cur_type, cur_seq); CLEAR_SCRATCH }
  :: atomic { g_loss < LOSS && blen[S] > 0 -> PICK_ANY(S); take(S); g_loss++;
       printf("MSC:                 (lost S->C %e seq=%d)\n", cur_type, cur_seq); CLEAR_SCRATCH }
  :: atomic { g_dup < DUPS && blen[C] > 0 && blen[C] < CAP -> PICK_ANY(C); dup(C); CLEAR_SCRATCH }
  :: atomic { g_dup < DUPS && blen[S] > 0 && blen[S] < CAP -> PICK_ANY(S); dup(S); CLEAR_SCRATCH }
  CORRUPT_AT(C, 0) CORRUPT_AT(C, 1) CORRUPT_AT(C, 2) CORRUPT_AT(C, 3)
  CORRUPT_AT(C, 4) CORRUPT_AT(C, 5) CORRUPT_AT(C, 6) CORRUPT_AT(C, 7)
  CORRUPT_AT(S, 0) CORRUPT_AT(S, 1) CORRUPT_AT(S, 2) CORRUPT_AT(S, 3)
  CORRUPT_AT(S, 4) CORRUPT_AT(S, 5) CORRUPT_AT(S, 6) CORRUPT_AT(S, 7)
  BIG_AT(C, 0) BIG_AT(C, 1) BIG_AT(C, 2) BIG_AT(C, 3) BIG_AT(C, 4) BIG_AT(C, 5) BIG_AT(C, 6) BIG_AT(C, 7)
  BIG_AT(S, 0) BIG_AT(S, 1) BIG_AT(S, 2) BIG_AT(S, 3) BIG_AT(S, 4) BIG_AT(S, 5) BIG_AT(S, 6) BIG_AT(S, 7)
  od
}

init {
  atomic {
    st[C] = START; st[S] = START;
    run Client(); run Server(); run Network()
  }
}

/* Every run ends with both sides CLOSED (the server may also never have heard of
 * the client). All runs of this bounded model are finite, so "still exchanging"
 * has no infinite counterpart here: a cycle would be a livelock and fail this. */
ltl terminates { <> (st[C] == CLOSED && (st[S] == CLOSED || (st[S] == START && blen[C] == 0))) }

/* With timers slower than the network, no loss and no corruption, every request
 * is answered and the connection ends with CLOSE / CLOSE ACK. */
ltl completes { <> (st[C] == CLOSED && st[S] == CLOSED && g_c_answered == K_REQ && g_rekeyed == K_REQ / N_REKEY &&
                    g_clean[C] && g_clean[S]) }
