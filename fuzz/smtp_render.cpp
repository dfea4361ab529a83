// Fuzz target: the SMTP transport's renderer (RFC 5322 header fields, RFC 2047
// words, quoted-printable) and then its DATA encoder, on a message whose every
// text comes from the input, split at NUL bytes: the sender's and recipients'
// names and addresses, the subject, the body and the payload's own headers.
// The rendered text must have CR LF line ends only; its header, up to the
// first empty line, must hold only the renderer's fields and the payload's own valid
// ones, each line a field or the continuation of one, so that no value can
// add a header; and the data must keep SMTP's promises.

#include "input_fields.hpp"

#include <spool/smtp/detail/wire.hpp>
#include <spool/smtp/message.hpp>

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using spool_fuzz::require;
    spool_fuzz::input_fields in(std::string_view(reinterpret_cast<const char*>(data), size));
    spool::message m;
    m.sender = {in.next(), in.next(), "SMTP"};
    for (int i = 0; i < 2; ++i)
        m.recipients.push_back({in.next(), in.next(), "SMTP", i == 0 ? spool::recipient_kind::to : spool::recipient_kind::cc});
    m.payload.subject = in.next();
    m.payload.body = in.next();
    std::set<std::string> names{"date", "from", "to", "cc", "subject", "message-id", "mime-version", "content-type",
                                "content-transfer-encoding"};
    while (in.more()) {
        auto name = in.next();
        if (spool::detail::is_field_name(name)) names.insert(lower(name));
        m.payload.headers.emplace_back(std::move(name), in.next());
    }

    const std::string text = spool::rfc5322_renderer{}(m);
    require(spool_fuzz::crlf_only(text));
    const auto header_end = text.find("\r\n\r\n"); // then the body, whose last line may have no end
    require(header_end != std::string::npos);
    for (std::string_view line : spool_fuzz::lines_of(std::string_view(text).substr(0, header_end + 2))) {
        if (line.front() == ' ' || line.front() == '\t') continue; // a fold
        const auto colon = line.find(':');
        require(colon != std::string_view::npos && names.contains(lower(line.substr(0, colon))));
    }

    std::string wire;
    spool::detail::smtp::append_data(wire, text);
    spool_fuzz::require_message_data(wire);
    return 0;
}
