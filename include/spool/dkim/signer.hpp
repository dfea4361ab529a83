#pragma once

// spool::dkim_signer: DKIM signatures (RFC 6376; Ed25519 by RFC 8463) made
// once, at preprocessing, with libopendkim. Link spool::dkim.
//
//   spool::rfc5322_renderer renderer{{"mx.example.org"}};
//   spool::dkim_signer signer{{.keys = {{"example.org", "2026a", "/etc/spool/dkim/2026a.pem"}}}, renderer};
//   spool::spooler sp{store, spool::smtp_transport{options, {}, renderer},
//                     spool::message_id_stamp{"mx.example.org"}, signer};
//
// The signer renders the message with the renderer the transport uses, signs
// those bytes, and stores only the DKIM-Signature headers in the payload. The
// renderer writes them first, unchanged, at every attempt; a message is never
// signed twice, and what is signed is what is sent. Give both the same
// renderer: a different one would send bytes that were not signed.

#include <spool/dkim/detail/opendkim.hpp>
#include <spool/address_types.hpp>
#include <spool/mail/detail/header_section.hpp>
#include <spool/mail/detail/text.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>
#include <spool/tags.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace spool {

/// A signing key: the PEM file of its private key (`openssl genpkey
/// -algorithm RSA -pkeyopt rsa_keygen_bits:2048`, or `-algorithm ed25519`), the
/// selector its public key is published under, and the domain it signs for.
/// The algorithm is the key's own: rsa-sha256 or ed25519-sha256.
struct dkim_key {
    std::string domain;                ///< d=
    std::string selector;              ///< s=: the record is <selector>._domainkey.<domain>
    std::filesystem::path private_key; ///< PEM
};

enum class dkim_canonicalization : std::uint8_t { relaxed, simple };

struct dkim_options {
    /// Per domain, the first RSA key listed signs, and the first Ed25519 key
    /// adds a second signature. A domain needs an RSA key: not every mailbox
    /// provider verifies Ed25519. To rotate, publish the new selector, list its
    /// key first, and keep the old record published until mail signed with it
    /// has arrived.
    std::vector<dkim_key> keys;
    dkim_canonicalization header_canonicalization = dkim_canonicalization::relaxed;
    dkim_canonicalization body_canonicalization = dkim_canonicalization::relaxed;
    /// Sign every message for this domain. Empty: for the sender's domain
    /// (what follows the @ of `message::sender`, in lower case); a message
    /// whose domain has no key is sent unsigned.
    std::string domain{};
    /// Signed when present: RFC 6376 §5.4.1's list, and the MIME fields.
    std::vector<std::string> signed_headers{"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
                                            "In-Reply-To", "References", "MIME-Version", "Content-Type",
                                            "Content-Transfer-Encoding", "Resent-Date", "Resent-From", "Resent-To",
                                            "Resent-Cc", "List-Id", "List-Help", "List-Unsubscribe",
                                            "List-Unsubscribe-Post", "List-Subscribe", "List-Post", "List-Owner",
                                            "List-Archive"};
    /// Signed once more than they occur, so that none can be added after
    /// signing (RFC 6376 §8.15).
    std::vector<std::string> oversigned_headers{"From"};
};

/// A key that cannot be used: missing, unreadable, not a private key, or of
/// an algorithm DKIM does not sign with. Thrown when the signer is made, so
/// that no message fails later for it.
class dkim_key_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The TXT record to publish at `<selector>._domainkey.<domain>` for the key
/// in `private_key` (a PEM file): "v=DKIM1; k=rsa; p=..." or "v=DKIM1;
/// k=ed25519; p=...". Throws dkim_key_error as the signer does.
std::string dkim_dns_record(const std::filesystem::path& private_key);

namespace detail::dkim {

enum class algorithm : std::uint8_t { rsa_sha256, ed25519_sha256 };

struct loaded_key {
    std::string domain, selector, pem;
    algorithm alg{};
};

inline loaded_key load(const dkim_key& k) {
    const std::string where = "spool::dkim_signer: the key " + k.private_key.string() + " (s=" + k.selector +
                              ", d=" + k.domain + ")";
    if (k.domain.empty() || k.selector.empty()) throw dkim_key_error(where + " needs a domain and a selector");
    std::ifstream in(k.private_key, std::ios::binary);
    if (!in) throw dkim_key_error(where + " cannot be opened");
    std::string pem{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw dkim_key_error(where + " cannot be read");
    const openssl_key key = parse_private_key(pem);
    if (!key) throw dkim_key_error(where + " is not a PEM private key");
    const int type = EVP_PKEY_get_base_id(key.get());
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_ED25519)
        throw dkim_key_error(where + " is neither an RSA nor an Ed25519 key");
    if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key.get()) < 1024)
        throw dkim_key_error(where + " has fewer than 1024 bits, which verifiers refuse (RFC 8301)");
    std::string domain;
    for (char c : k.domain) domain += fold_case(c);
    return {domain, k.selector, std::move(pem), type == EVP_PKEY_RSA ? algorithm::rsa_sha256 : algorithm::ed25519_sha256};
}

// What every copy of a signer shares: the library, the keys by domain.
struct signing_state {
    struct domain_keys {
        std::optional<loaded_key> rsa, ed25519;
    };
    library lib{dkim_init(nullptr, nullptr)};
    std::unordered_map<std::string, domain_keys> by_domain;
    dkim_options options;
    std::mutex one_at_a_time; // the signing time is a library option

    explicit signing_state(dkim_options o) : options(std::move(o)) {
        if (!lib) throw dkim_key_error("spool::dkim_signer: libopendkim could not be initialised");
        for (const dkim_key& k : options.keys) {
            loaded_key key = load(k);
            auto& slot = by_domain[key.domain];
            auto& first = key.alg == algorithm::rsa_sha256 ? slot.rsa : slot.ed25519;
            if (!first) first = std::move(key);
        }
        for (const auto& [domain, keys] : by_domain)
            if (!keys.rsa) throw dkim_key_error("spool::dkim_signer: the domain " + domain + " has an Ed25519 key but no RSA key");
        std::string fixed;
        for (char c : options.domain) fixed += fold_case(c);
        options.domain = fixed;
        if (!options.domain.empty() && !by_domain.contains(options.domain))
            throw dkim_key_error("spool::dkim_signer: no key for the configured domain " + options.domain);
        name_list signed_names(options.signed_headers), oversigned(options.oversigned_headers);
        if (::dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, signed_names.get(), sizeof(char**)) != DKIM_STAT_OK ||
            ::dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, oversigned.get(), sizeof(char**)) != DKIM_STAT_OK)
            throw dkim_key_error("spool::dkim_signer: libopendkim refused the header lists");
    }

    // The DKIM-Signature value for `text` (a rendered message) under `key`;
    // empty if libopendkim could not make one.
    std::string sign(const loaded_key& key, std::string_view text, time_point now) {
        const auto canon = [](dkim_canonicalization c) { return c == dkim_canonicalization::simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED; };
        std::lock_guard lock{one_at_a_time};
        std::uint64_t seconds = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
        ::dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &seconds, sizeof seconds);
        DKIM_STAT status = DKIM_STAT_OK;
        handle d(dkim_sign(lib.get(), bytes("spool"), nullptr, const_cast<unsigned char*>(bytes(key.pem)), bytes(key.selector),
                           bytes(key.domain), canon(options.header_canonicalization), canon(options.body_canonicalization),
                           key.alg == algorithm::rsa_sha256 ? DKIM_SIGN_RSASHA256 : DKIM_SIGN_ED25519SHA256, -1, &status));
        if (!d || status != DKIM_STAT_OK) return {};
        // libopendkim folds an Ed25519 signature's header differently when it
        // hashes it (b= empty) than when it writes it, which breaks it under
        // simple header canonicalisation (both verifiers of tests/dkim_test.cpp
        // say so). Unfolded, it is short: about 300 octets.
        if (key.alg == algorithm::ed25519_sha256 && dkim_set_margin(d.get(), 0) != DKIM_STAT_OK) return {};
        bool fed = true;
        for_each_field(text, [&](std::string_view name, std::string_view value) {
            // The field as written, "Name:value" with its folds, without the final line end.
            const std::string_view whole(name.data(), static_cast<std::size_t>(value.data() + value.size() - name.data()));
            fed = fed && dkim_header(d.get(), const_cast<unsigned char*>(bytes(whole)), whole.size()) == DKIM_STAT_OK;
        });
        const std::string_view body = mime_body(text);
        if (!fed || dkim_eoh(d.get()) != DKIM_STAT_OK ||
            (!body.empty() && dkim_body(d.get(), const_cast<unsigned char*>(bytes(body)), body.size()) != DKIM_STAT_OK) ||
            dkim_eom(d.get(), nullptr) != DKIM_STAT_OK)
            return {};
        unsigned char* out = nullptr;
        std::size_t size = 0;
        if (dkim_getsighdr_d(d.get(), std::string_view("DKIM-Signature: ").size(), &out, &size) != DKIM_STAT_OK) return {};
        // libopendkim folds with a bare LF; mail's line end is CR LF, as it hashed.
        std::string value;
        for (std::size_t i = 0; i < size; ++i) {
            if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r')) value += '\r';
            value += static_cast<char>(out[i]);
        }
        return value;
    }
};

} // namespace detail::dkim

/// A Preprocessor for SMTP recipients that DKIM-signs each message once. Its
/// signatures go into the payload's headers, first, as "DKIM-Signature"; the
/// renderer writes them first and byte for byte. It must be the last
/// preprocessor composed (after message_id_stamp, whose Message-ID it
/// signs): the spooler refuses at compile time one composed after it.
///
/// Throws dkim_key_error when made if a key cannot be used. A message whose
/// signing domain has no key goes unsigned; one libopendkim cannot sign
/// fails preprocessing, and stays in the store.
template <class Renderer>
    requires requires(const Renderer& r, const message& m) {
        { r(m) } -> std::convertible_to<std::string>;
    }
class dkim_signer {
public:
    using spool_concept = preprocessor_tag;
    /// Signs what the other preprocessors wrote, so it runs after all of them.
    static constexpr bool spool_runs_last = true;

    dkim_signer(dkim_options options, Renderer renderer)
        : state_(std::make_shared<detail::dkim::signing_state>(std::move(options))), renderer_(std::move(renderer)) {}

    spool::address_types address_types() const { return {"SMTP"}; }

    preprocess_result preprocess(preprocessing<message>& run) {
        message& m = run.message();
        const auto* keys = keys_for(m);
        if (!keys) return preprocess_result::ok();
        // Signed as the SMTP transport sends it: every line end a CR LF, the
        // last line ended (a body without a final line end has one on the wire).
        std::string text = detail::crlf_lines(renderer_(m));
        if (!text.ends_with("\r\n")) text += "\r\n";
        std::vector<std::string> made;
        for (const auto* key : {&keys->rsa, &keys->ed25519}) {
            if (!*key) continue;
            std::string value = state_->sign(**key, text, run.now());
            if (value.empty())
                return preprocess_result::fail("DKIM: libopendkim could not sign for d=" + (*key)->domain + " s=" + (*key)->selector);
            made.push_back(std::move(value));
        }
        // Before any signature the message already has: the newest comes first.
        auto& headers = m.payload.headers;
        for (auto it = made.rbegin(); it != made.rend(); ++it) headers.emplace(headers.begin(), "DKIM-Signature", std::move(*it));
        return preprocess_result::ok();
    }

private:
    const detail::dkim::signing_state::domain_keys* keys_for(const message& m) const {
        std::string domain = state_->options.domain;
        if (domain.empty()) {
            const auto at = m.sender.address.rfind('@');
            if (at == std::string::npos) return nullptr;
            for (char c : std::string_view(m.sender.address).substr(at + 1)) domain += detail::fold_case(c);
        }
        const auto found = state_->by_domain.find(domain);
        return found == state_->by_domain.end() ? nullptr : &found->second;
    }

    std::shared_ptr<detail::dkim::signing_state> state_;
    Renderer renderer_;
};

inline std::string dkim_dns_record(const std::filesystem::path& private_key) {
    const auto key = detail::dkim::load({"record", "record", private_key});
    const auto parsed = detail::dkim::parse_private_key(key.pem);
    const std::string p = detail::dkim::public_key_text(parsed.get());
    if (p.empty()) throw dkim_key_error("spool::dkim_dns_record: OpenSSL gave no public key for " + private_key.string());
    return std::string("v=DKIM1; k=") + (key.alg == detail::dkim::algorithm::rsa_sha256 ? "rsa" : "ed25519") + "; p=" + p;
}

} // namespace spool
