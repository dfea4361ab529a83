#pragma once

// The totals a dashboard charts, read from a spooler's metrics page in the
// Prometheus text format or OpenMetrics (spool::metrics writes both):
// messages submitted and finished, and recipients sent, deferred and failed,
// summed over every transport and destination.

#include <spool/web/activity.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spool::detail::web {

// The value of label `name` in a label set `a="x",b="y\"z"`, unescaped; none when absent or malformed.
inline std::optional<std::string> label_value(std::string_view labels, std::string_view name) {
    std::size_t i = 0;
    while (i < labels.size()) {
        const std::size_t eq = labels.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= labels.size() || labels[eq + 1] != '"') return std::nullopt;
        const std::string_view key = labels.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 2;
        for (; j < labels.size() && labels[j] != '"'; ++j) {
            if (labels[j] == '\\' && j + 1 < labels.size()) {
                ++j;
                value += labels[j] == 'n' ? '\n' : labels[j];
            } else {
                value += labels[j];
            }
        }
        if (j >= labels.size()) return std::nullopt;
        if (key == name) return value;
        i = j + 1;
        if (i < labels.size() && labels[i] == ',') ++i;
    }
    return std::nullopt;
}

/// The totals on a metrics page; none when it has none of spool's counters.
inline std::optional<web_minute> metric_totals(std::string_view text) {
    web_minute t;
    bool found = false;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty() || line.front() == '#') continue;
        std::size_t name_end = line.find_first_of("{ ");
        if (name_end == std::string_view::npos) continue;
        const std::string_view name = line.substr(0, name_end);
        std::string_view labels;
        std::size_t rest = name_end;
        if (line[name_end] == '{') {
            const std::size_t close = line.rfind('}');
            if (close == std::string_view::npos || close < name_end) continue;
            labels = line.substr(name_end + 1, close - name_end - 1);
            rest = close + 1;
        }
        std::string_view value_text = line.substr(rest);
        while (!value_text.empty() && value_text.front() == ' ') value_text.remove_prefix(1);
        value_text = value_text.substr(0, value_text.find(' '));
        double value = 0;
        if (std::from_chars(value_text.data(), value_text.data() + value_text.size(), value).ec != std::errc{} || value < 0) continue;
        const auto n = static_cast<std::uint64_t>(value);
        if (name == "spool_messages_submitted_total") {
            t.submitted += n;
            found = true;
        } else if (name == "spool_messages_finished_total") {
            t.finished += n;
            found = true;
        } else if (name == "spool_recipients_total") {
            const auto outcome = label_value(labels, "outcome");
            if (!outcome) continue;
            if (*outcome == "sent") t.sent += n;
            else if (*outcome == "deferred") t.deferred += n;
            else if (*outcome == "failed") t.failed += n;
            found = true;
        }
    }
    if (!found) return std::nullopt;
    return t;
}

} // namespace spool::detail::web
