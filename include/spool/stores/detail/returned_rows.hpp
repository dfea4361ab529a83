#pragma once

// The returned reports both durable stores keep for later
// (ReportBacklogStore): a row per report, its original, its reporting MTA,
// and its recipients in one column. Each recipient is its action's number,
// then its address, status, diagnostic and remote MTA, each written as
// "<length>:<bytes>", so that any byte a remote server wrote reads back as it was.
// A column that cannot be read back (damage) reads as no recipients: the
// report is then applied to no one and forgotten; the suppression list was
// fed when it came.

#include <spool/returned_report.hpp>

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace spool::detail {

inline std::string encode_returned_recipients(const std::vector<returned_recipient>& recipients) {
    std::string out;
    auto field = [&](const std::string& s) { (out += std::to_string(s.size())) += ':', out += s; };
    for (const returned_recipient& r : recipients) {
        out += static_cast<char>('0' + static_cast<int>(r.action));
        field(r.address);
        field(r.status);
        field(r.diagnostic);
        field(r.remote_mta);
    }
    return out;
}

/// None for a column that is not as encode_returned_recipients writes it.
inline std::vector<returned_recipient> decode_returned_recipients(std::string_view in) {
    std::vector<returned_recipient> out;
    auto field = [&](std::string& s) {
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), n);
        const auto digits = static_cast<std::size_t>(end - in.data());
        if (ec != std::errc{} || digits == 0 || digits >= in.size() || in[digits] != ':' || in.size() - digits - 1 < n) return false;
        s.assign(in.substr(digits + 1, n));
        in.remove_prefix(digits + 1 + n);
        return true;
    };
    while (!in.empty()) {
        returned_recipient r;
        const int action = in.front() - '0';
        if (action < 0 || action > static_cast<int>(dsn_action::expanded)) return {};
        r.action = static_cast<dsn_action>(action);
        in.remove_prefix(1);
        if (!field(r.address) || !field(r.status) || !field(r.diagnostic) || !field(r.remote_mta))
            return {};
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace spool::detail
