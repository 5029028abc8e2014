# SPDX-License-Identifier: Apache-2.0
# The core's source files per layer, relative to src/. The host build (src/)
# and the Cortex-M4 build (mcu/) both take them from here.
set(LOCKSTEP_COMMON_SOURCES common/bytes.cpp common/result.cpp)
set(LOCKSTEP_WIRE_SOURCES wire/wire.cpp wire/records.cpp wire/cert.cpp wire/names.cpp)
set(LOCKSTEP_KEYS_SOURCES keys/keys.cpp)
set(LOCKSTEP_RECORD_SOURCES record/record.cpp)
# The engine: handshake (tables, messages) and session (connection state, dispatch, timers).
set(LOCKSTEP_ENGINE_SOURCES
  handshake/table.cpp handshake/auth.cpp handshake/certs.cpp handshake/handshake.cpp handshake/server.cpp handshake/rekey.cpp
  session/api.cpp session/engine.cpp session/link.cpp session/send.cpp session/receive.cpp)
