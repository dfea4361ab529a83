// Fuzz target: the MAIL and RCPT commands a message's envelope makes, with
// every extension a server may offer (SIZE, 8BITMIME, SMTPUTF8, DSN). The
// transport builds them only for addresses that can stand in a path
// (is_path_address), as here; the envelope id and the addresses come from
// the input, the rest from its first octet. Each command must be one line,
// CR LF only at its end; its path must be the address as given; and every
// parameter after it one KEY or KEY=value token of printable ASCII, so that
// no address or id can add a parameter or a command.

#include "input_fields.hpp"

#include <spool/smtp/detail/session.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace smtp = spool::detail::smtp;
using spool_fuzz::require;

void require_command(const std::string& cmd, std::string_view verb, std::string_view address) {
    require(cmd.ends_with("\r\n"));
    const std::string_view line = std::string_view(cmd).substr(0, cmd.size() - 2);
    for (char c : line) require(c != '\r' && c != '\n' && c != '\0');
    require(line.starts_with(verb));
    const std::string_view rest = line.substr(verb.size());
    require(rest.size() >= address.size() + 1 && rest.substr(0, address.size()) == address && rest[address.size()] == '>');
    std::string_view params = rest.substr(address.size() + 1);
    while (!params.empty()) {
        require(params.front() == ' ');
        params.remove_prefix(1);
        const auto end = std::min(params.find(' '), params.size());
        const std::string_view token = params.substr(0, end);
        require(!token.empty());
        for (char c : token) require(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);
        require(token.find('=') == token.rfind('=')); // KEY or KEY=value: xtext has no '='
        params.remove_prefix(end);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const unsigned flags = size ? data[0] : 0;
    spool_fuzz::input_fields in(std::string_view(reinterpret_cast<const char*>(data), size).substr(size ? 1 : 0));
    smtp::extensions ext;
    ext.size_offered = flags & 1;
    ext.eight_bit_mime = flags & 2;
    ext.smtputf8 = flags & 4;
    ext.dsn = flags & 8;
    spool::smtp_options options;
    options.dsn_return = flags & 16 ? "HDRS" : flags & 32 ? "FULL" : "";
    smtp::job j;
    j.sender = in.next();
    j.envelope_id = in.next();
    j.size = in.next().size();
    j.eight_bit = flags & 64;
    j.needs_smtputf8 = smtp::has_8bit(j.sender);
    if (j.sender.empty() || smtp::is_path_address(j.sender)) require_command(smtp::session::mail_command(j, ext, options), "MAIL FROM:<", j.sender);
    static constexpr const char* notify[] = {"", "NEVER", "SUCCESS", "FAILURE", "SUCCESS,FAILURE"};
    for (int i = 0; in.more(); ++i) {
        smtp::job_recipient r{in.next(), notify[static_cast<unsigned>(i) % 5], {}};
        if (!smtp::is_path_address(r.address)) continue;
        require_command(smtp::session::rcpt_command(r, ext, flags & 128), "RCPT TO:<", r.address);
    }
    return 0;
}
