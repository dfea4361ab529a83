#pragma once

// libopendkim (the library behind OpenDKIM) and OpenSSL, behind handles that
// free themselves. RFC 6376's canonicalisation and signing are libopendkim's;
// spool only feeds it a rendered message, field by field, then the body.

// dkim.h is C99 and names _Bool, which C++ spells bool (the same type in
// every ABI g++ and clang target).
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spool::detail::dkim {

struct library_free {
    void operator()(DKIM_LIB* lib) const noexcept { dkim_close(lib); }
};
struct handle_free {
    void operator()(DKIM* d) const noexcept { dkim_free(d); }
};
struct key_free {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using library = std::unique_ptr<DKIM_LIB, library_free>;
using handle = std::unique_ptr<DKIM, handle_free>;
using openssl_key = std::unique_ptr<EVP_PKEY, key_free>;

inline const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

// A private key in PEM, parsed by OpenSSL; null if it is not one.
inline openssl_key parse_private_key(std::string_view pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    if (!bio) return nullptr;
    return openssl_key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

inline std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n > 0 ? n : 0));
    return out;
}

// The p= of a key's DNS record (RFC 6376 §3.6.1): the DER SubjectPublicKeyInfo
// of an RSA key, the raw 32 octets of an Ed25519 one (RFC 8463 §4); empty if
// OpenSSL cannot give it.
inline std::string public_key_text(EVP_PKEY* key) {
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
        unsigned char raw[32];
        std::size_t size = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(key, raw, &size) != 1) return {};
        return base64(raw, size);
    }
    unsigned char* der = nullptr;
    const int size = i2d_PUBKEY(key, &der);
    if (size <= 0) return {};
    std::string out = base64(der, static_cast<std::size_t>(size));
    OPENSSL_free(der);
    return out;
}

// Header names as libopendkim takes them: a null-terminated array of C strings.
class name_list {
public:
    explicit name_list(const std::vector<std::string>& names) : names_(names) {
        for (const auto& n : names_) pointers_.push_back(n.c_str());
        pointers_.push_back(nullptr);
    }
    const char** get() noexcept { return pointers_.data(); }

private:
    std::vector<std::string> names_;
    std::vector<const char*> pointers_;
};

} // namespace spool::detail::dkim
