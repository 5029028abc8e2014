// SPDX-License-Identifier: Apache-2.0
#include "rsa_pss_vector.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace lockstep::sim::rsa_vector {
namespace {

std::string dir() { return std::string(LOCKSTEP_SOURCE_DIR) + "/tests/vectors/rsa_pss/"; }

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Buf unhex(const std::string& h) {
    Buf out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

// signatures.txt: comment lines ('#'), then one "<key> <n> <hex>" line per signing.
struct Book {
    std::string header;  // the comment lines, kept on rewrite
    std::map<std::string, Buf> sigs;
    bool changed = false;
};

Book& book() {
    static Book b = [] {
        Book r;
        std::istringstream in(read_text(dir() + "signatures.txt"));
        for (std::string line; std::getline(in, line);) {
            if (line.empty()) continue;
            if (line[0] == '#') {
                r.header += line + "\n";
                continue;
            }
            std::istringstream f(line);
            std::string key, n, h;
            f >> key >> n >> h;
            r.sigs[key + " " + n] = unhex(h);
        }
        return r;
    }();
    return b;
}

// The key through the loader the CLI uses, which reads only 0600 files: a
// checkout's copy is 0644, so it is copied to a private file first.
std::unique_ptr<crypto::openssl::OpenSslSigner> load(const std::string& key) {
    static int counter = 0;
    const std::string text = read_text(dir() + key + ".pem");
    const auto tmp = std::filesystem::temp_directory_path() /
                     ("lockstep-rsa-vector-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".pem");
    std::filesystem::remove(tmp);
    const crypto::ConstBytes data{reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
    if (!crypto::openssl::write_secret_file(tmp.c_str(), data)) std::abort();
    auto k = crypto::openssl::OpenSslSigner::load_pem(tmp.c_str());
    std::filesystem::remove(tmp);
    if (!k || (*k)->alg() != crypto::SigAlg::rsa_pss_2048_sha256) std::abort();
    return std::move(*k);
}

}  // namespace

std::string hex(crypto::ConstBytes b) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto x : b) {
        s += d[x >> 4];
        s += d[x & 15];
    }
    return s;
}

std::string pem_text(const std::string& key) {
    std::istringstream in(read_text(dir() + key + ".pem"));
    std::string out;
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#') out += line + "\n";
    return out;
}

ReplaySigner::ReplaySigner(std::string key, std::vector<Signing>& log, bool update, std::string flip)
    : name_(std::move(key)), flip_(std::move(flip)), key_(load(name_)), log_(log), update_(update) {}

Status ReplaySigner::sign(crypto::ConstBytes msg, crypto::Bytes sig) noexcept {
    const int index = count_++;
    const std::string label = name_ + " " + std::to_string(index);
    Book& b = book();
    const auto it = b.sigs.find(label);
    crypto::openssl::OpenSslProvider p;
    Buf s;
    if (it != b.sigs.end() && (!update_ || p.verify(alg(), public_key(), msg, it->second))) {
        s = it->second;
    } else if (update_) {
        s.resize(sig.size());
        LS_TRY(key_->sign(msg, s));
        b.sigs[label] = s;
        b.changed = true;
    } else {
        return Err::crypto_failure;  // no fixed signature for this signing: regenerate
    }
    if (s.size() != sig.size()) return Err::invalid_argument;
    if (label == flip_) flip_one_bit(s);
    std::copy(s.begin(), s.end(), sig.begin());
    log_.push_back(Signing{name_, index, Buf(msg.begin(), msg.end()), s});
    return {};
}

void flip_one_bit(Buf& sig) { sig.at(100) ^= 0x08; }

bool save_if_changed() {
    Book& b = book();
    if (!b.changed) return true;
    std::ofstream out(dir() + "signatures.txt");
    out << b.header;
    for (const char* key : {"ca", "server", "client"})
        for (int n = 0;; ++n) {
            const auto it = b.sigs.find(std::string(key) + " " + std::to_string(n));
            if (it == b.sigs.end()) break;
            out << key << " " << n << " " << hex(it->second) << "\n";
        }
    b.changed = false;
    return static_cast<bool>(out);
}

}  // namespace lockstep::sim::rsa_vector
