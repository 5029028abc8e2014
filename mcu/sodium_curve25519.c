// SPDX-License-Identifier: Apache-2.0
/* libsodium's X25519 (ref10) and the Ed25519 field/group code it uses, compiled
 * as ONE translation unit. Each of x25519_ref10.c and ed25519_ref10.c includes the
 * field arithmetic (fe_25_5/fe.h) as static functions, so two separately compiled
 * files carry two copies of fe25519_mul / fe25519_sq (about 2.3 KB on a Cortex-M4);
 * here the header's include guard leaves one. No code of libsodium is changed.
 *
 * X25519 key generation on the device runs the ladder on the base point, never
 * crypto_scalarmult_curve25519_base: that one stays reachable through libsodium's
 * dispatch table and would pull in the 30 KB precomputed table of
 * ge25519_scalarmult_base, so its call in x25519_ref10.c is renamed to a trap
 * (mcu/board_io.cpp); Ed25519 signing (cert builds) still reaches the table. */
#include "crypto_core/ed25519/ref10/ed25519_ref10.c"

void lockstep_x25519_base_table_left_out(ge25519_p3 *h, const unsigned char *a);
#define ge25519_scalarmult_base lockstep_x25519_base_table_left_out
#include "crypto_scalarmult/curve25519/ref10/x25519_ref10.c"
#undef ge25519_scalarmult_base
