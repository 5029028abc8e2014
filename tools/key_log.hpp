// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `request --insecure-key-log FILE`: the engine's insecure key
// log (Config::insecure_key_log) as a text file, for Wireshark's lockstep
// dissector (packaging/wireshark/lockstep.lua) or any other reader. One line per
// secret the engine hands out (spec: PROTOCOL.md §10, "Key log file"):
//
//     LABEL TH2 EPOCH VALUE
//
// LABEL: the key log label upper-cased, spaces as '_' (C_AP_TRAFFIC,
// REKEY_S_AP_TRAFFIC, ...); TH2: the connection, as the hex of its transcript
// hash th2 (over the clear HELLO and HELLO ACK, so a capture names it too);
// EPOCH: the epoch in force when the secret was derived; VALUE: hex.
// The file is created with mode 0600 and appended to (one write per line), so
// several runs can share it; an existing file readable by others is refused.
// It defeats all security of the connections it logs: tests and debugging only,
// and only in a build with the key log compiled in (LOCKSTEP_INSECURE_KEY_LOG).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cli.hpp"
#include "lockstep/config.hpp"

namespace lockstep::cli {

class KeyLogFile final : public InsecureKeyLog {
public:
    explicit KeyLogFile(const std::string& path);  // Exit::file on failure
    ~KeyLogFile() override;
    KeyLogFile(const KeyLogFile&) = delete;
    KeyLogFile& operator=(const KeyLogFile&) = delete;
    void on_secret(const char* label, std::uint32_t epoch, std::span<const std::uint8_t> value) noexcept override;

private:
    void write_line(const std::string& line) noexcept;
    int fd_ = -1;
    std::string th2_;                   // hex; empty until the connection's th2 is known
    struct Pending {
        std::string label;
        std::uint32_t epoch;
        std::string value;
    };
    std::vector<Pending> pending_;  // secrets derived before th2 (the initial ecdhe)
};

// Exit::usage unless the engine of this build accepts a key log (an engine
// refuses one that is not compiled in, spec: PROTOCOL.md §10).
void require_key_log_support(const Config& cfg);

}  // namespace lockstep::cli
