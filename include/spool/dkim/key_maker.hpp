#pragma once

// Makes a DKIM signing key, as `spoolctl dkim-key` does: a new private key in
// a PEM file only its owner can read, and the TXT record to publish for it
// (docs/dkim.md, "Keys and rotation").

#include <spool/dkim/signer.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

namespace spool {

enum class dkim_key_type : std::uint8_t { rsa, ed25519 };

/// Writes a new private key to `file` (PKCS #8 PEM, mode 0600; an existing
/// file is never overwritten) and returns the TXT record to publish at
/// `<selector>._domainkey.<domain>` (dkim_dns_record). RSA keys have
/// `rsa_bits` bits: 2048 by default, as RFC 8301 recommends; under 1024 is
/// refused, as verifiers refuse it. Throws dkim_key_error, naming the file,
/// when the key cannot be made or written.
inline std::string make_dkim_key(const std::filesystem::path& file, dkim_key_type type, unsigned rsa_bits = 2048) {
    const std::string where = "spool::make_dkim_key: " + file.string();
    if (type == dkim_key_type::rsa && rsa_bits < 1024)
        throw dkim_key_error(where + ": RSA keys of fewer than 1024 bits are refused by verifiers (RFC 8301)");
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        type == dkim_key_type::rsa ? EVP_RSA_gen(rsa_bits) : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), &EVP_PKEY_free);
    if (!key) throw dkim_key_error(where + ": OpenSSL could not make the key");

    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw dkim_key_error(where + ": " + std::strerror(errno));
    std::FILE* out = ::fdopen(fd, "w");
    if (!out) {
        const int e = errno;
        ::close(fd);
        std::filesystem::remove(file);
        throw dkim_key_error(where + ": " + std::strerror(e));
    }
    const bool written = PEM_write_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    const bool flushed = std::fflush(out) == 0 && ::fsync(fd) == 0;
    std::fclose(out);
    if (!written || !flushed) {
        std::filesystem::remove(file);
        throw dkim_key_error(where + ": the key could not be written");
    }
    return dkim_dns_record(file);
}

} // namespace spool
