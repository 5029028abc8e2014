/* SPDX-License-Identifier: Apache-2.0 */
/* lockstep — LOCKSTEP_API marks the public API. The library is built with
 * hidden symbol visibility by default (-fvisibility=hidden), so only what is
 * marked is exported from a shared liblockstep. Usable from C and C++. */
#ifndef LOCKSTEP_EXPORT_H
#define LOCKSTEP_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define LOCKSTEP_API __attribute__((visibility("default")))
#else
#define LOCKSTEP_API
#endif

#endif /* LOCKSTEP_EXPORT_H */
