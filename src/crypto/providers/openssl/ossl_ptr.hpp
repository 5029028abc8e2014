// SPDX-License-Identifier: Apache-2.0
// RAII for the OpenSSL objects the provider and its key loaders hold: one
// deleter per *_free function, so every object is freed on every path.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include <memory>

namespace lockstep::crypto::openssl::detail {

template <auto FreeFn>
struct Free {
    template <class T>
    void operator()(T* p) const noexcept {
        FreeFn(p);
    }
};
using Bignum = std::unique_ptr<BIGNUM, Free<&BN_free>>;
using Bio = std::unique_ptr<BIO, Free<&BIO_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Free<&EVP_CIPHER_CTX_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, Free<&EVP_KDF_CTX_free>>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, Free<&EVP_MAC_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Free<&EVP_MD_CTX_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Free<&OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Free<&OSSL_PARAM_free>>;
using Pkey = std::unique_ptr<EVP_PKEY, Free<&EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Free<&EVP_PKEY_CTX_free>>;

}  // namespace lockstep::crypto::openssl::detail
