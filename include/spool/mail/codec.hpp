#pragma once

// A compact binary form of a message, for stores that keep messages as bytes
// (the SQLite store does). Decoding checks every length against what is left,
// so a corrupt record is reported, never read past, and it costs time and
// memory linear in the record's size. Each record starts with its format
// number and ends with a CRC-32C of everything before it, so a flipped bit is
// found on load rather than sent. Every earlier format still decodes
// (tests/fixtures/format-<N>/ keeps records each one wrote); a newer one is
// refused with errc::format_too_new.
//
// A message's payload is encoded by spool::payload_codec<Payload>, which spool
// provides for mail_payload; specialise it for your own payload type:
//
//     template <> struct spool::payload_codec<my_payload> {
//         static void encode(spool::byte_writer& w, const my_payload& p) { w.string(p.text); }
//         static bool decode(spool::byte_reader& r, my_payload& p) { return r.string(p.text); }
//     };

#include <spool/mail/detail/crc32c.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace spool {

namespace detail {
// The first byte of every encoded message; a new layout gets a new number and
// the decoder keeps reading the old ones. 1: no checksum; 2: a CRC-32C of the
// record follows it, in four bytes, least significant first. Every format from
// 2 on keeps that trailer, so that a record of a newer format can be told
// from a damaged one. 3: a deferred recipient keeps its diagnostic (status
// tag 4; tag 2, without one, is still read from older records). 4: a sent
// recipient keeps its action (relayed). 5: mail_payload keeps `mime`. 6:
// delayed-delivery reports: a recipient's `delay_reported`, the requests'
// `delay_suppressed`, an entry's `will_retry_until`, and report kind 2; and
// an entry's action, which a stored delivery report lost before (relayed).
inline constexpr std::uint64_t message_format = 6;
} // namespace detail

class byte_writer {
public:
    void unsigned_number(std::uint64_t v) {
        do {
            std::uint8_t b = v & 0x7f;
            v >>= 7;
            out_.push_back(static_cast<char>(v ? b | 0x80 : b));
        } while (v);
    }
    void signed_number(std::int64_t v) {
        unsigned_number((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
    }
    void boolean(bool b) { unsigned_number(b ? 1 : 0); }
    void string(std::string_view s) {
        unsigned_number(s.size());
        out_.append(s.data(), s.size());
    }
    void time(time_point t) { signed_number(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count()); }

    std::string take() noexcept { return std::move(out_); }

private:
    std::string out_;
};

class byte_reader {
public:
    /// Reads `in`, a record written in `format` (detail::message_format when
    /// it is this build's own).
    explicit byte_reader(std::string_view in, std::uint64_t format = detail::message_format) : in_(in), format_(format) {}

    /// The format of the record being read, so that a payload codec can read
    /// what an older spool wrote.
    std::uint64_t format() const noexcept { return format_; }

    [[nodiscard]] bool unsigned_number(std::uint64_t& v) {
        v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (in_.empty()) return false;
            const auto b = static_cast<std::uint8_t>(in_.front());
            in_.remove_prefix(1);
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return true;
        }
        return false;
    }
    [[nodiscard]] bool signed_number(std::int64_t& v) {
        std::uint64_t u = 0;
        if (!unsigned_number(u)) return false;
        v = static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
        return true;
    }
    [[nodiscard]] bool boolean(bool& b) {
        std::uint64_t u = 0;
        if (!unsigned_number(u) || u > 1) return false;
        b = u == 1;
        return true;
    }
    [[nodiscard]] bool string(std::string& s) {
        std::uint64_t n = 0;
        if (!unsigned_number(n) || n > in_.size()) return false;
        s.assign(in_.data(), n);
        in_.remove_prefix(n);
        return true;
    }
    [[nodiscard]] bool time(time_point& t) {
        std::int64_t ns = 0;
        if (!signed_number(ns)) return false;
        t = time_point{std::chrono::duration_cast<time_point::duration>(std::chrono::nanoseconds{ns})};
        return true;
    }
    /// A count of items that each take at least `min_item_bytes` encoded: more
    /// than the bytes left can hold is corrupt.
    [[nodiscard]] bool count(std::uint64_t& n, std::size_t min_item_bytes = 1) {
        return unsigned_number(n) && n <= in_.size() / min_item_bytes;
    }
    /// A count, then that many items, each read by `item(reader, T&)`. The
    /// vector grows as items are read rather than being sized by the count,
    /// so a corrupt count costs no more than the bytes that are there.
    template <class T, class Item>
    [[nodiscard]] bool sequence(std::vector<T>& out, std::size_t min_item_bytes, Item&& item) {
        std::uint64_t n = 0;
        if (!count(n, min_item_bytes)) return false;
        out.clear();
        for (; n > 0; --n)
            if (!item(*this, out.emplace_back())) return false;
        return true;
    }
    template <class E>
    [[nodiscard]] bool enumeration(E& e, std::uint64_t max) {
        std::uint64_t u = 0;
        if (!unsigned_number(u) || u > max) return false;
        e = static_cast<E>(static_cast<std::underlying_type_t<E>>(u));
        return true;
    }
    bool done() const noexcept { return in_.empty(); }

private:
    std::string_view in_;
    std::uint64_t format_;
};

template <class Payload>
struct payload_codec; // specialise for your payload type

template <>
struct payload_codec<mail_payload> {
    static void encode(byte_writer& w, const mail_payload& p) {
        w.string(p.subject);
        w.string(p.body);
        w.unsigned_number(p.headers.size());
        for (const auto& [name, value] : p.headers) {
            w.string(name);
            w.string(value);
        }
        w.string(p.mime);
    }
    static bool decode(byte_reader& r, mail_payload& p) {
        return r.string(p.subject) && r.string(p.body) &&
               r.sequence(p.headers, 2, [](byte_reader& in, auto& h) { return in.string(h.first) && in.string(h.second); }) &&
               (r.format() < 5 || r.string(p.mime)); // the sender's own MIME since format 5
    }
};

template <class Payload>
concept encodable_payload = requires(byte_writer& w, byte_reader& r, const Payload& in, Payload& out) {
    payload_codec<Payload>::encode(w, in);
    { payload_codec<Payload>::decode(r, out) } -> std::same_as<bool>;
};

namespace detail {

inline constexpr std::size_t checksum_bytes = 4;

// The fewest bytes each item can take encoded, which bounds what a count may claim.
inline constexpr std::size_t min_recipient_bytes = 8; // three strings, five numbers
inline constexpr std::size_t min_entry_bytes = 7;     // five strings, a kind, an optional time
inline constexpr std::size_t min_message_bytes = 16;  // the envelope without its payload

inline void encode_mailbox(byte_writer& w, const mailbox& m) {
    w.string(m.display_name);
    w.string(m.address);
    w.string(m.address_type);
}
inline bool decode_mailbox(byte_reader& r, mailbox& m) {
    return r.string(m.display_name) && r.string(m.address) && r.string(m.address_type);
}
inline void encode_optional_time(byte_writer& w, const std::optional<time_point>& t) {
    w.boolean(t.has_value());
    if (t) w.time(*t);
}
inline bool decode_optional_time(byte_reader& r, std::optional<time_point>& t) {
    bool has = false;
    if (!r.boolean(has)) return false;
    if (!has) return t.reset(), true;
    time_point v{};
    if (!r.time(v)) return false;
    t = v;
    return true;
}
inline void encode_requests(byte_writer& w, const report_requests& q) {
    w.boolean(q.delivery);
    w.boolean(q.non_delivery_suppressed);
    w.boolean(q.delay_suppressed);
}
inline bool decode_requests(byte_reader& r, report_requests& q) {
    return r.boolean(q.delivery) && r.boolean(q.non_delivery_suppressed) &&
           (r.format() < 6 || r.boolean(q.delay_suppressed));
}

// The status tag of a deferred recipient since format 3.
inline constexpr std::uint64_t deferred_with_diagnostic = 4;
// The status tag of a sent recipient that a transport relayed, since format 4.
inline constexpr std::uint64_t sent_with_action = 5;

inline void encode_recipient(byte_writer& w, const recipient& x) {
    w.string(x.display_name);
    w.string(x.address);
    w.string(x.address_type);
    w.unsigned_number(static_cast<std::uint64_t>(x.kind));
    w.boolean(x.responsibility);
    w.boolean(x.reported);
    w.boolean(x.delay_reported);
    w.boolean(x.reports.has_value());
    if (x.reports) encode_requests(w, *x.reports);
    const auto* s = std::get_if<status::sent>(&x.status);
    const bool relayed = s && s->action != delivery_action::delivered;
    w.unsigned_number(std::holds_alternative<status::deferred>(x.status) ? deferred_with_diagnostic
                      : relayed                                          ? sent_with_action
                                                                         : x.status.index());
    if (s) w.time(s->at);
    if (relayed) w.unsigned_number(static_cast<std::uint64_t>(s->action));
    if (const auto* d = std::get_if<status::deferred>(&x.status)) {
        w.time(d->next_attempt);
        w.string(d->reason);
        w.unsigned_number(d->attempts);
        w.string(d->diagnostic);
    }
    if (const auto* f = std::get_if<status::failed>(&x.status)) {
        w.string(f->reason);
        w.string(f->diagnostic);
    }
}
inline bool decode_recipient(byte_reader& r, recipient& x) {
    bool has_requests = false;
    std::uint64_t which = 0;
    if (!r.string(x.display_name) || !r.string(x.address) || !r.string(x.address_type) ||
        !r.enumeration(x.kind, 2) || !r.boolean(x.responsibility) || !r.boolean(x.reported) ||
        (r.format() >= 6 && !r.boolean(x.delay_reported)) || !r.boolean(has_requests))
        return false;
    if (has_requests) {
        report_requests q;
        if (!decode_requests(r, q)) return false;
        x.reports = q;
    }
    if (!r.unsigned_number(which)) return false;
    switch (which) {
    case 0: x.status = status::pending{}; return true;
    case 1:
    case sent_with_action: {
        status::sent s;
        if (!r.time(s.at)) return false;
        if (which == sent_with_action && !r.enumeration(s.action, 2)) return false;
        x.status = s;
        return true;
    }
    case 2:
    case deferred_with_diagnostic: {
        status::deferred d;
        std::uint64_t attempts = 0;
        if (!r.time(d.next_attempt) || !r.string(d.reason) || !r.unsigned_number(attempts)) return false;
        if (which == deferred_with_diagnostic && !r.string(d.diagnostic)) return false;
        d.attempts = static_cast<unsigned>(attempts);
        x.status = std::move(d);
        return true;
    }
    case 3: {
        status::failed f;
        if (!r.string(f.reason) || !r.string(f.diagnostic)) return false;
        x.status = std::move(f);
        return true;
    }
    default: return false;
    }
}

inline void encode_entry(byte_writer& w, const report_entry& e) {
    w.string(e.display_name);
    w.string(e.address);
    w.string(e.address_type);
    w.unsigned_number(static_cast<std::uint64_t>(e.kind));
    encode_optional_time(w, e.delivered_at);
    w.string(e.reason);
    w.string(e.diagnostic);
    encode_optional_time(w, e.will_retry_until);
    w.unsigned_number(static_cast<std::uint64_t>(e.action));
}
inline bool decode_entry(byte_reader& r, report_entry& e) {
    return r.string(e.display_name) && r.string(e.address) && r.string(e.address_type) && r.enumeration(e.kind, 2) &&
           decode_optional_time(r, e.delivered_at) && r.string(e.reason) && r.string(e.diagnostic) &&
           (r.format() < 6 || (decode_optional_time(r, e.will_retry_until) && r.enumeration(e.action, 2)));
}

template <class Payload>
void encode_body(byte_writer& w, const basic_message<Payload>& m);
template <class Payload>
bool decode_body(byte_reader& r, basic_message<Payload>& m, int depth);

template <class Payload>
void encode_body(byte_writer& w, const basic_message<Payload>& m) {
    w.unsigned_number(static_cast<std::uint64_t>(m.id));
    w.string(m.message_class);
    w.unsigned_number(m.recipients.size());
    for (const auto& x : m.recipients) encode_recipient(w, x);
    w.unsigned_number(static_cast<std::uint64_t>(m.flags));
    w.unsigned_number(static_cast<std::uint64_t>(m.submission & ~submit_flags::locked)); // the lock is never stored
    encode_optional_time(w, m.client_submit_time);
    w.signed_number(static_cast<std::int64_t>(m.priority));
    encode_mailbox(w, m.sender);
    w.boolean(m.report_to.has_value());
    if (m.report_to) encode_mailbox(w, *m.report_to);
    w.unsigned_number(m.sent_mail.index());
    if (const auto* move = std::get_if<disposition::move_to>(&m.sent_mail)) w.unsigned_number(static_cast<std::uint32_t>(move->folder));
    encode_requests(w, m.reports);
    encode_optional_time(w, m.deferred_delivery_time);
    w.boolean(m.report.has_value());
    if (m.report) {
        const auto& b = *m.report;
        w.unsigned_number(static_cast<std::uint64_t>(b.kind));
        w.time(b.report_time);
        w.unsigned_number(b.entries.size());
        for (const auto& e : b.entries) encode_entry(w, e);
        w.unsigned_number(static_cast<std::uint64_t>(b.original_id));
        w.string(b.original_class);
        encode_optional_time(w, b.original_submit_time);
        w.unsigned_number(b.original_recipients.size());
        for (const auto& x : b.original_recipients) encode_recipient(w, x);
        w.unsigned_number(b.original.size());
        for (const auto& o : b.original) encode_body(w, o);
    }
    payload_codec<Payload>::encode(w, m.payload);
}

template <class Payload>
bool decode_body(byte_reader& r, basic_message<Payload>& m, int depth) {
    if (depth > 8) return false; // reports inside reports: a bound, not a format limit
    std::uint64_t id = 0, flags = 0, submission = 0, disposition_index = 0;
    std::int64_t priority = 0;
    bool has = false;
    if (!r.unsigned_number(id) || !r.string(m.message_class) ||
        !r.sequence(m.recipients, min_recipient_bytes, decode_recipient))
        return false;
    m.id = message_id{id};
    if (!r.unsigned_number(flags) || !r.unsigned_number(submission) || submission > 0xff ||
        !decode_optional_time(r, m.client_submit_time) || !r.signed_number(priority) || priority < -1 || priority > 1 ||
        !decode_mailbox(r, m.sender) || !r.boolean(has))
        return false;
    m.flags = static_cast<message_flags>(flags);
    m.submission = static_cast<submit_flags>(submission) & ~submit_flags::locked; // never stored, never read
    m.priority = static_cast<message_priority>(priority);
    if (has) {
        mailbox to;
        if (!decode_mailbox(r, to)) return false;
        m.report_to = to;
    }
    if (!r.unsigned_number(disposition_index)) return false;
    switch (disposition_index) {
    case 0: {
        std::uint64_t folder = 0;
        if (!r.unsigned_number(folder)) return false;
        m.sent_mail = disposition::move_to{folder_id{static_cast<std::uint32_t>(folder)}};
        break;
    }
    case 1: m.sent_mail = disposition::leave_in_place{}; break;
    case 2: m.sent_mail = disposition::delete_after_submit{}; break;
    default: return false;
    }
    if (!decode_requests(r, m.reports) || !decode_optional_time(r, m.deferred_delivery_time) || !r.boolean(has))
        return false;
    if (has) {
        basic_report<Payload> b;
        std::uint64_t original_id = 0;
        if (!r.enumeration(b.kind, r.format() < 6 ? 1 : 2) || !r.time(b.report_time) || !r.sequence(b.entries, min_entry_bytes, decode_entry) ||
            !r.unsigned_number(original_id) || !r.string(b.original_class) ||
            !decode_optional_time(r, b.original_submit_time) ||
            !r.sequence(b.original_recipients, min_recipient_bytes, decode_recipient) ||
            !r.sequence(b.original, min_message_bytes,
                        [depth](byte_reader& in, basic_message<Payload>& o) { return decode_body(in, o, depth + 1); }))
            return false;
        b.original_id = message_id{original_id};
        m.report = std::move(b);
    }
    return payload_codec<Payload>::decode(r, m.payload);
}

} // namespace detail

/// The message as bytes, in the current format.
template <encodable_payload Payload>
std::string encode(const basic_message<Payload>& m) {
    byte_writer w;
    w.unsigned_number(detail::message_format);
    detail::encode_body(w, m);
    std::string out = w.take();
    const std::uint32_t sum = detail::crc32c(out);
    for (std::size_t i = 0; i < detail::checksum_bytes; ++i) out += static_cast<char>((sum >> (8 * i)) & 0xff);
    return out;
}

/// The message back, from any format a spool ever wrote. Errors:
/// errc::corrupt_message (damaged, or not a message), errc::format_too_new
/// (written by a newer spool: keep it for that spool, do not discard it).
template <encodable_payload Payload>
result<basic_message<Payload>> decode(std::string_view bytes) {
    std::uint64_t format = 0;
    if (!byte_reader(bytes).unsigned_number(format) || format == 0) return errc::corrupt_message;
    if (format >= 2) {
        if (bytes.size() < detail::checksum_bytes) return errc::corrupt_message;
        const std::string_view sum = bytes.substr(bytes.size() - detail::checksum_bytes);
        bytes.remove_suffix(detail::checksum_bytes);
        std::uint32_t stored = 0;
        for (std::size_t i = 0; i < detail::checksum_bytes; ++i)
            stored |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(sum[i])) << (8 * i);
        if (stored != detail::crc32c(bytes)) return errc::corrupt_message;
    }
    // Whole, by its checksum, but newer than this build: keep it for a newer spool.
    if (format > detail::message_format) return errc::format_too_new;
    byte_reader r(bytes, format);
    basic_message<Payload> m;
    if (!r.unsigned_number(format) || !detail::decode_body(r, m, 0) || !r.done()) return errc::corrupt_message;
    return m;
}

} // namespace spool
