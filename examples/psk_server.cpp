// SPDX-License-Identifier: Apache-2.0
// lockstep example: a PSK server in C++ on the net API (lockstep/net.hpp).
//
//   psk_server KEYFILE IDENTITY [PORT]
//
// Listens on 127.0.0.1:PORT over TCP (0 or none: an ephemeral port), prints
// "listening tcp=127.0.0.1:PORT" once ready, and answers every DATA REQUEST
// with "echo: " and the request. KEYFILE holds the raw pre-shared key
// (16..64 bytes, mode 0600). Stops on SIGINT / SIGTERM.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <lockstep/net.hpp>
#include <lockstep/openssl/keys.hpp>
#include <lockstep/version.hpp>

namespace {

// One identity, one key (a real server would look identities up in a store).
class OnePsk final : public lockstep::PskStore {
public:
    OnePsk(std::string id, std::vector<std::uint8_t> key) : id_(std::move(id)), key_(std::move(key)) {}
    std::span<const std::uint8_t> find(std::span<const std::uint8_t> identity) const noexcept override {
        const std::string asked(identity.begin(), identity.end());
        return asked == id_ ? std::span<const std::uint8_t>(key_) : std::span<const std::uint8_t>{};
    }

private:
    std::string id_;
    std::vector<std::uint8_t> key_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: psk_server KEYFILE IDENTITY [PORT]\n");
        return 1;
    }
    std::vector<std::uint8_t> key(64);
    // Refuses a file readable by group or others.
    auto n = lockstep::crypto::openssl::read_secret_file(argv[1], key);
    if (!n || *n < 16) {
        std::fprintf(stderr, "psk_server: cannot use %s as a key (%s)\n", argv[1],
                     n ? "shorter than 16 bytes" : lockstep::err_name(n.error()));
        return 2;
    }
    key.resize(*n);
    OnePsk store(argv[2], std::move(key));

    lockstep::Config cfg;
    cfg.role = lockstep::Role::server;
    cfg.modes = {lockstep::Mode::psk};
    cfg.psk_store = &store;

    lockstep::net::ServerOptions opts;
    opts.tcp_port = static_cast<std::uint16_t>(argc > 3 ? std::atoi(argv[3]) : 0);
    lockstep::net::Server server(
        cfg, opts, [](std::span<const std::uint8_t> request, const lockstep::net::PeerInfo&, std::span<std::uint8_t> response) {
            static constexpr char kPrefix[] = "echo: ";
            const std::size_t n = sizeof kPrefix - 1 + request.size();
            if (n > response.size()) return n;  // too long: the server refuses it
            std::copy_n(kPrefix, sizeof kPrefix - 1, response.begin());
            std::copy(request.begin(), request.end(), response.begin() + (sizeof kPrefix - 1));
            return n;
        });
    if (!server.bind()) {
        std::fprintf(stderr, "psk_server: cannot listen\n");
        return 3;
    }
    std::printf("listening tcp=127.0.0.1:%u (lockstep %s)\n", server.tcp_port(), lockstep::version());
    std::fflush(stdout);
    lockstep::net::Server::install_signal_handlers();
    return server.run() ? 0 : 70;
}
