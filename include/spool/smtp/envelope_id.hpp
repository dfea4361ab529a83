#pragma once

// The envelope id (RFC 3461 ENVID) the SMTP transport gives each message, so
// that a report mailed back days later can be matched to it: "spool.<id>.<mac>",
// where <mac> is 128 bits of HMAC-SHA256 of "spool.<id>" under a secret the
// spool keeps (smtp_options::envelope_id_secret), in lower-case hex. Without
// the secret nobody can make an id that verifies, so a forged or guessed
// report changes nothing (docs/returned-reports.md).

#include <spool/message.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spool {

namespace detail::smtp {
inline constexpr std::size_t envelope_mac_bytes = 16;

inline std::string envelope_mac(std::string_view what, std::string_view secret) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(what.data()),
              what.size(), digest, &size) ||
        size < envelope_mac_bytes)
        return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < envelope_mac_bytes; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}
} // namespace detail::smtp

/// The ENVID for message `id`: "spool.<id>.<mac>" under `secret`, or
/// "spool.<id>" when the secret is empty (guessable: nothing is matched by it).
inline std::string smtp_envelope_id(message_id id, std::string_view secret) {
    std::string plain = "spool." + std::to_string(static_cast<std::uint64_t>(id));
    if (secret.empty()) return plain;
    const std::string mac = detail::smtp::envelope_mac(plain, secret);
    return mac.empty() ? plain : plain + "." + mac;
}

/// The message an ENVID names, when it is one smtp_envelope_id made under
/// `secret`; nullopt for anything else: another system's id, a wrong or
/// missing MAC, an empty secret. The MAC is compared in constant time; the
/// prefix and the hex digits are compared without case, as a relay may
/// change it (xtext is case-insensitive in practice).
inline std::optional<message_id> verify_envelope_id(std::string_view envid, std::string_view secret) {
    constexpr std::string_view prefix = "spool.";
    if (secret.empty() || envid.size() <= prefix.size() || !detail::same_address(envid.substr(0, prefix.size()), prefix))
        return std::nullopt;
    const std::string_view rest = envid.substr(prefix.size());
    const std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0) return std::nullopt;
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + dot, number);
    if (ec != std::errc{} || end != rest.data() + dot) return std::nullopt;
    const std::string expected = detail::smtp::envelope_mac("spool." + std::string(rest.substr(0, dot)), secret);
    std::string given(rest.substr(dot + 1));
    for (char& c : given) c = detail::fold_case(c);
    if (expected.empty() || given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0)
        return std::nullopt;
    return message_id{number};
}

} // namespace spool
