// Fuzz target: what a hostile SMTP server can send (replies, pipelined, in
// any bytes). Checks the parser's promises: it never reads past its input, a
// complete reply has a valid code and an enhanced code of its class, and the
// EHLO keywords parse. The message data has its own target (smtp_data).

#include <spool/smtp/detail/connection.hpp>
#include <spool/smtp/detail/reply.hpp>

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

    return 0;
}
