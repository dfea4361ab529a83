#pragma once

// spool::message as an RFC 5322 mail message, for the SMTP transport: the
// default renderer, and the preprocessor that gives a message its Message-ID
// once, at submit, so that every attempt sends the same one and a receiver
// can drop duplicates.

#include <spool/address_types.hpp>
#include <spool/mail/detail/header_section.hpp>
#include <spool/mail/detail/text.hpp>
#include <spool/smtp/detail/wire.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>
#include <spool/tags.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace spool {

namespace detail {

inline const std::string* header_named(const mail_payload& p, std::string_view name) {
    for (const auto& [n, v] : p.headers)
        if (same_field_name(n, name)) return &v;
    return nullptr;
}

inline bool is_ascii_text(std::string_view s) noexcept {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80 || (static_cast<unsigned char>(c) < 0x20 && c != '\t')) return false;
    return true;
}

// RFC 2047 encoded-words in UTF-8 and base64, each at most 75 characters and
// never splitting a character, folded onto lines of their own; 7-bit text as
// it is (a value already folded, such as a signature, byte for byte), except
// that a control which would break its line becomes a space.
inline std::string header_text(std::string_view value) {
    if (!smtp::has_8bit(value)) return is_header_value(value) ? std::string(value) : header_value(value);
    std::string out;
    std::size_t i = 0;
    while (i < value.size()) {
        std::size_t end = std::min(value.size(), i + 45); // 45 octets: 60 base64 characters
        while (end < value.size() && end > i && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
        if (end == i) end = std::min(value.size(), i + 45);
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?";
        base64(out, value.substr(i, end - i));
        out += "?=";
        i = end;
    }
    return out;
}

// A display name and address as an RFC 5322 mailbox: the name quoted (or
// encoded) when it has anything beyond atext and spaces.
inline std::string mailbox_text(std::string_view name, std::string_view address) {
    std::string out;
    if (!name.empty()) {
        if (!is_ascii_text(name)) {
            out = header_text(name);
        } else {
            out = "\"";
            for (char c : header_value(name)) {
                if (c == '"' || c == '\\') out += '\\';
                out += c;
            }
            out += '"';
        }
        out += ' ';
    }
    out += '<';
    out += header_value(address);
    out += '>';
    return out;
}

// RFC 2045 quoted-printable, for a body with 8-bit octets or long lines: every
// line end a CR LF, lines of at most 76 characters.
inline std::string quoted_printable(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    std::size_t column = 0;
    auto put = [&](std::string_view piece) {
        if (column + piece.size() > 75) {
            out += "=\r\n";
            column = 0;
        }
        out += piece;
        column += piece.size();
    };
    for_each_line(text, [&](std::string_view line, bool ended) {
        column = 0;
        for (std::size_t i = 0; i < line.size(); ++i) {
            const char c = line[i];
            const auto u = static_cast<unsigned char>(c);
            // Space at a line's end is encoded: transports may strip it.
            const bool plain = (u >= 33 && u <= 126 && c != '=') || ((c == ' ' || c == '\t') && i + 1 < line.size());
            if (plain && !(column == 0 && c == '.')) {
                const char one[1] = {c};
                put(std::string_view(one, 1));
            } else {
                const char three[3] = {'=', hex[u >> 4], hex[u & 15]};
                put(std::string_view(three, 3));
            }
        }
        if (ended) out += "\r\n";
    });
    return out;
}

inline bool needs_transfer_encoding(std::string_view body) noexcept {
    std::size_t column = 0;
    for (char c : body) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\r' || c == '\n') {
            column = 0;
            continue;
        }
        if (u >= 0x80 || u == 0 || ++column > smtp::max_line) return true;
    }
    return false;
}

} // namespace detail

/// How a message is rendered.
struct rfc5322_options {
    /// The right side of a Message-ID made for a message that has none
    /// (usually the sending host's name).
    std::string domain = "localhost";
};

/// A Message-ID for `m` that is the same whenever it is asked for: its store
/// id and submit time, at `domain`. The renderer uses it when the message has
/// no Message-ID header (compose `spool::message_id_stamp` to store one at submit).
inline std::string default_message_id(const message& m, std::string_view domain) {
    const auto submitted =
        m.client_submit_time ? std::chrono::duration_cast<std::chrono::microseconds>(m.client_submit_time->time_since_epoch()).count() : 0;
    return "<spool." + std::to_string(static_cast<std::uint64_t>(m.id)) + '.' + std::to_string(submitted) + '@' +
           detail::dot_atom(domain, "localhost") + '>';
}

/// The default renderer: `spool::message` (a mail_payload) as RFC 5322 text
/// with CR LF line ends.
///
/// A payload's DKIM-Signature headers come first, byte for byte: they sign
/// what follows, and a signer (spool::dkim_signer) renders the message without
/// them. Then:
/// - With `mime` set (the sender's own message): the payload's other headers,
///   then the MIME text as it is; Date (the submit time) and Message-ID
///   (default_message_id) only when neither has one.
/// - Otherwise: From comes from the sender; To and Cc from the recipient
///   table (Bcc recipients are never written); Date from the submit time;
///   Subject and display names as RFC 2047 encoded-words when they are not
///   ASCII; MIME-Version 1.0 and a text/plain UTF-8 body, quoted-printable
///   when it has 8-bit octets or a line longer than 998 octets. The payload's
///   own headers follow, except those that spool writes from the envelope
///   (From, To, Cc, Bcc, Subject, MIME-Version, Content-Type,
///   Content-Transfer-Encoding); its Date and Message-ID replace spool's.
struct rfc5322_renderer {
    rfc5322_options options{};

    std::string operator()(const message& m) const {
        std::string out;
        for (const auto& [name, value] : m.payload.headers)
            if (is_signature(name)) detail::field(out, name, value);
        if (m.payload.mime.empty()) composed(out, m);
        else own_mime(out, m);
        return out;
    }

private:
    static bool is_signature(std::string_view name) { return detail::same_field_name(name, "DKIM-Signature"); }

    void own_mime(std::string& out, const message& m) const {
        using detail::field;
        const auto& p = m.payload;
        if (!detail::header_named(p, "Date") && !detail::mime_field(p.mime, "Date"))
            field(out, "Date", detail::rfc5322_date(m.client_submit_time.value_or(time_point{})));
        if (!detail::header_named(p, "Message-ID") && !detail::mime_field(p.mime, "Message-ID"))
            field(out, "Message-ID", default_message_id(m, options.domain));
        for (const auto& [name, value] : p.headers)
            if (!is_signature(name)) field(out, name, detail::header_text(value));
        out += detail::crlf_lines(p.mime);
    }

    void composed(std::string& out, const message& m) const {
        using detail::field;
        const auto& p = m.payload;
        const std::string* date = detail::header_named(p, "Date");
        field(out, "Date", date ? *date : detail::rfc5322_date(m.client_submit_time.value_or(time_point{})));
        if (!m.sender.address.empty()) field(out, "From", detail::mailbox_text(m.sender.display_name, m.sender.address));
        for (const auto kind : {recipient_kind::to, recipient_kind::cc}) {
            std::string list;
            for (const recipient& r : m.recipients)
                if (r.kind == kind && !r.address.empty())
                    list += (list.empty() ? "" : ",\r\n ") + detail::mailbox_text(r.display_name, r.address);
            if (!list.empty()) field(out, kind == recipient_kind::to ? "To" : "Cc", list);
        }
        field(out, "Subject", detail::header_text(p.subject));
        const std::string* id = detail::header_named(p, "Message-ID");
        field(out, "Message-ID", id ? *id : default_message_id(m, options.domain));
        field(out, "MIME-Version", "1.0");
        field(out, "Content-Type", "text/plain; charset=utf-8");
        const bool encode = detail::needs_transfer_encoding(p.body);
        field(out, "Content-Transfer-Encoding", encode ? "quoted-printable" : "7bit");
        for (const auto& [name, value] : p.headers) {
            static constexpr std::string_view ours[] = {"Date", "Message-ID", "From", "To", "Cc", "Bcc", "Subject",
                                                        "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
                                                        "DKIM-Signature"};
            bool skip = false;
            for (auto o : ours) skip = skip || detail::same_field_name(name, o);
            if (!skip && detail::is_field_name(name)) field(out, name, detail::header_text(value));
        }
        out += "\r\n";
        out += encode ? detail::quoted_printable(p.body) : detail::crlf_lines(p.body);
    }
};

/// A Preprocessor for SMTP recipients that gives each message a Message-ID
/// header once, at submit, unless it has one. The spooler stores the message
/// after preprocessing, so every attempt, and every restart, sends the same
/// id (RFC 5322 §3.6.4) and a receiver can drop a duplicate.
class message_id_stamp {
public:
    using spool_concept = preprocessor_tag;

    explicit message_id_stamp(std::string domain = "localhost") : domain_(detail::dot_atom(domain, "localhost")) {}

    spool::address_types address_types() const { return {"SMTP"}; }

    preprocess_result preprocess(preprocessing<message>& run) {
        auto& m = run.message();
        if (detail::header_named(m.payload, "Message-ID") || detail::mime_field(m.payload.mime, "Message-ID"))
            return preprocess_result::ok();
        std::random_device device;
        const std::uint64_t nonce = (std::uint64_t(device()) << 32) ^ device();
        const auto now = std::chrono::duration_cast<std::chrono::microseconds>(run.now().time_since_epoch()).count();
        m.payload.headers.emplace_back("Message-ID", "<" + std::to_string(now) + '.' + std::to_string(nonce) + '.' +
                                                          std::to_string(static_cast<std::uint64_t>(m.id)) + '@' +
                                                          domain_ + '>');
        return preprocess_result::ok();
    }

private:
    std::string domain_;
};

} // namespace spool
