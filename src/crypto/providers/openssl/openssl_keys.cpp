// SPDX-License-Identifier: Apache-2.0
#include "lockstep/openssl/keys.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "ossl_ptr.hpp"

namespace lockstep::crypto::openssl {
namespace {

using namespace detail;

// A file descriptor closed on every path.
class Fd {
public:
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }
    void reset(int fd) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    int release() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

Err fail(Err e) noexcept {
    ERR_clear_error();
    return e;
}

constexpr mode_t kSecretMode = 0600;
constexpr mode_t kGroupOtherBits = 077;
constexpr off_t kMaxPemFileLen = 64 * 1024;
constexpr int kPssSaltLen = 32;  // spec: PROTOCOL.md §4.3
constexpr unsigned long kRsaE = 65537;

const std::uint8_t kEmpty[1] = {0};
const unsigned char* ptr(ConstBytes b) noexcept { return b.empty() ? kEmpty : b.data(); }

// Never prompt on a terminal for a passphrase: encrypted keys are refused.
int no_passphrase(char*, int, int, void*) { return 0; }

bool write_all(int fd, ConstBytes data) noexcept {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// Creates `path` exclusively with mode 0600, lets `fill` write it, syncs and
// closes. A failure after creation removes the file again.
template <class Fill>
Status create_secret_file(const char* path, Fill&& fill) noexcept {
    if (path == nullptr) return Err::invalid_argument;
    // O_EXCL also refuses a symlink at `path`; the mode is re-applied with fchmod
    // because the umask may have removed bits (it never adds any).
    Fd fd(::open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kSecretMode));
    if (fd.get() < 0) return Err::invalid_argument;
    bool ok = ::fchmod(fd.get(), kSecretMode) == 0 && fill(fd.get()) && ::fsync(fd.get()) == 0;
    ok = ::close(fd.release()) == 0 && ok;
    if (!ok) {
        ::unlink(path);
        return fail(Err::internal);
    }
    return {};
}

// Opens an existing secret file for reading after checking, on the descriptor
// itself (no race with the path), that it is a regular file private to its owner.
Status open_secret_file(const char* path, Fd& out, struct stat& st) noexcept {
    if (path == nullptr) return Err::invalid_argument;
    // O_NONBLOCK: opening a FIFO must not hang; it is refused just below.
    Fd fd(::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) return Err::invalid_argument;
    if (!S_ISREG(st.st_mode) || (st.st_mode & kGroupOtherBits) != 0) return Err::invalid_argument;
    out.reset(fd.release());
    return {};
}

}  // namespace

OpenSslSigner::OpenSslSigner(evp_pkey_st* key, SigAlg alg) noexcept : key_(key), alg_(alg) {}

OpenSslSigner::~OpenSslSigner() { EVP_PKEY_free(key_); }

Result<std::unique_ptr<OpenSslSigner>> OpenSslSigner::adopt(evp_pkey_st* raw) noexcept {
    Pkey key(raw);
    if (!key) return fail(Err::crypto_failure);
    std::array<std::uint8_t, kMaxPublicKeyLen> pub{};
    SigAlg alg;
    if (EVP_PKEY_is_a(key.get(), "ED25519") == 1) {
        alg = SigAlg::ed25519;
        std::size_t len = pubkey_len(alg);
        if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != pubkey_len(alg)) {
            return fail(Err::crypto_failure);
        }
    } else if (EVP_PKEY_is_a(key.get(), "RSA") == 1) {
        const int bits = EVP_PKEY_get_bits(key.get());
        if (bits == 2048) {
            alg = SigAlg::rsa_pss_2048_sha256;
        } else if (bits == 3072) {
            alg = SigAlg::rsa_pss_3072_sha256;
        } else {
            return fail(Err::invalid_argument);
        }
        BIGNUM* raw_n = nullptr;
        BIGNUM* raw_e = nullptr;
        const int got_n = EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &raw_n);
        const int got_e = EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &raw_e);
        Bignum n(raw_n);
        Bignum e(raw_e);
        if (got_n != 1 || got_e != 1) return fail(Err::crypto_failure);
        // Certificates carry only the modulus; e is implied (crypto.hpp).
        if (BN_is_word(e.get(), kRsaE) != 1) return fail(Err::invalid_argument);
        const int len = static_cast<int>(pubkey_len(alg));
        if (BN_bn2binpad(n.get(), pub.data(), len) != len || (pub[0] & 0x80) == 0) {
            return fail(Err::crypto_failure);
        }
    } else {
        return fail(Err::invalid_argument);
    }
    std::unique_ptr<OpenSslSigner> signer(new (std::nothrow) OpenSslSigner(key.get(), alg));
    if (!signer) return Err::internal;
    static_cast<void>(key.release());  // now owned by signer
    signer->pub_ = pub;
    return signer;
}

Result<std::unique_ptr<OpenSslSigner>> OpenSslSigner::generate(SigAlg alg) noexcept {
    PkeyCtx ctx;
    int bits = 0;
    switch (alg) {
        case SigAlg::ed25519: ctx.reset(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr)); break;
        case SigAlg::rsa_pss_2048_sha256: bits = 2048; break;
        case SigAlg::rsa_pss_3072_sha256: bits = 3072; break;
        default: return Err::invalid_argument;
    }
    if (bits != 0) ctx.reset(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) return fail(Err::crypto_failure);
    // OpenSSL's default public exponent is 65537, as certificates require.
    if (bits != 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1) return fail(Err::crypto_failure);
    EVP_PKEY* key = nullptr;
    if (EVP_PKEY_keygen(ctx.get(), &key) != 1) return fail(Err::rng_failure);
    return adopt(key);
}

Result<std::unique_ptr<OpenSslSigner>> OpenSslSigner::load_pem(const char* path) noexcept {
    Fd fd(-1);
    struct stat st {};
    LS_TRY(open_secret_file(path, fd, st));
    if (st.st_size > kMaxPemFileLen) return Err::invalid_argument;
    Bio bio(BIO_new_fd(fd.get(), BIO_NOCLOSE));
    if (!bio) return fail(Err::internal);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
    if (key == nullptr) return fail(Err::invalid_argument);
    return adopt(key);
}

Status OpenSslSigner::save_pem(const char* path) const noexcept {
    return create_secret_file(path, [this](int fd) noexcept {
        Bio bio(BIO_new_fd(fd, BIO_NOCLOSE));
        // PKCS#8, no cipher, no passphrase.
        return bio && PEM_write_bio_PKCS8PrivateKey(bio.get(), key_, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
               BIO_flush(bio.get()) == 1;
    });
}

Status OpenSslSigner::ed25519_seed(Bytes out) const noexcept {
    if (alg_ != SigAlg::ed25519) return Err::unsupported;
    if (out.size() != 32) return Err::invalid_argument;
    std::size_t len = out.size();
    if (EVP_PKEY_get_raw_private_key(key_, out.data(), &len) != 1 || len != 32) return fail(Err::crypto_failure);
    return {};
}

Status OpenSslSigner::sign(ConstBytes msg, Bytes sig) noexcept {
    const std::size_t want = sig_len(alg_);
    if (sig.size() < want) return Err::buffer_too_small;
    if (sig.size() > want) return Err::invalid_argument;
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx) return fail(Err::crypto_failure);
    bool ok;
    if (alg_ == SigAlg::ed25519) {
        ok = EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_) == 1;
    } else {
        EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
        ok = EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key_) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, kPssSaltLen) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
    }
    std::size_t len = sig.size();
    if (!ok || EVP_DigestSign(ctx.get(), sig.data(), &len, ptr(msg), msg.size()) != 1 || len != want) {
        OPENSSL_cleanse(sig.data(), sig.size());
        return fail(Err::crypto_failure);
    }
    return {};
}

Status write_secret_file(const char* path, ConstBytes data) noexcept {
    return create_secret_file(path, [data](int fd) noexcept { return write_all(fd, data); });
}

Result<std::size_t> read_secret_file(const char* path, Bytes out) noexcept {
    Fd fd(-1);
    struct stat st {};
    LS_TRY(open_secret_file(path, fd, st));
    if (st.st_size < 0 || static_cast<std::uintmax_t>(st.st_size) > out.size()) return Err::buffer_too_small;
    std::size_t done = 0;
    Err err = Err::ok;
    while (true) {
        std::uint8_t probe = 0;
        // Once `out` is full, read one more byte to notice a file that grew.
        std::uint8_t* dst = done < out.size() ? out.data() + done : &probe;
        const std::size_t room = done < out.size() ? out.size() - done : 1;
        const ssize_t n = ::read(fd.get(), dst, room);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = Err::internal;
            break;
        }
        if (n == 0) break;
        if (dst == &probe) {
            err = Err::buffer_too_small;
            OPENSSL_cleanse(&probe, 1);
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (err != Err::ok) {
        if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
        return err;
    }
    return done;
}

}  // namespace lockstep::crypto::openssl
