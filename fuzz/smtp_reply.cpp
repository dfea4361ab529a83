// Fuzz target: what a hostile SMTP server can send (replies, pipelined, in
// any bytes) and what a message can hold on its way to the wire. Checks the
// parser's promises (it never reads past its input, a complete reply has a
// valid code and an enhanced code of its class) and the data's (CR LF only,
// one end-of-data marker, at the end).

#include <spool/smtp/detail/connection.hpp>
#include <spool/smtp/detail/reply.hpp>
#include <spool/smtp/detail/wire.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace smtp = spool::detail::smtp;

static void check(bool ok) {
    if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view rest = input;
    smtp::reply r;
    for (;;) {
        const auto p = smtp::parse_reply(rest, r);
        if (p.status != smtp::parse_status::complete) break;
        check(p.used > 0 && p.used <= rest.size());
        check(r.code >= 200 && r.code <= 599);
        check(r.enhanced.size() >= 5 && (r.kind() == 3 ? r.enhanced == "5.5.0" : r.enhanced[0] == char('0' + r.kind())));
        (void)smtp::extensions::from_ehlo(r);
        rest.remove_prefix(p.used);
    }

    std::string wire;
    smtp::append_data(wire, input);
    check(wire.size() >= 3 && wire.ends_with(".\r\n"));
    check(wire.size() == 3 || wire.ends_with("\r\n.\r\n"));
    const std::string_view body = std::string_view(wire).substr(0, wire.size() - 3);
    check(body.find("\r\n.\r\n") == std::string_view::npos && !body.starts_with(".\r\n"));
    for (std::size_t i = 0; i < wire.size(); ++i) {
        if (wire[i] == '\n') check(i > 0 && wire[i - 1] == '\r');
        if (wire[i] == '\r') check(i + 1 < wire.size() && wire[i + 1] == '\n');
    }
    return 0;
}
