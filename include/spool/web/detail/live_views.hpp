#pragma once

// The views of an embedded dashboard's live state (spool::web_live): the
// overview's chart of the last 24 hours, as SVG in the page (markup, not
// script: the Content-Security-Policy allows it), and the destinations
// table; each with its JSON.

#include <spool/delivery.hpp>
#include <spool/web/activity.hpp>
#include <spool/web/detail/text.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spool::detail::web {

inline std::string_view health_name(destination_health::state s) {
    switch (s) {
    case destination_health::state::up: return "up";
    case destination_health::state::down: return "down";
    case destination_health::state::probing: return "probing";
    }
    return "unknown";
}

/// The last 24 hours in bars of ten minutes: recipients sent, over those
/// deferred or failed, with the totals of the last hour and day.
inline std::string activity_chart(const std::vector<web_minute>& minutes) {
    constexpr std::size_t per_bar = 10;
    std::vector<web_minute> bars;
    for (std::size_t i = 0; i < minutes.size(); i += per_bar) {
        web_minute bar{minutes[i].start};
        for (std::size_t j = i; j < std::min(minutes.size(), i + per_bar); ++j) {
            bar.sent += minutes[j].sent;
            bar.deferred += minutes[j].deferred;
            bar.failed += minutes[j].failed;
        }
        bars.push_back(bar);
    }
    std::uint64_t top = 1;
    for (const auto& b : bars) top = std::max(top, b.sent + b.deferred + b.failed);
    constexpr int height = 120, width = 4;
    std::string svg = "<svg class=\"chart\" viewBox=\"0 0 " + std::to_string(bars.size() * width) + " " + std::to_string(height) +
                      "\" role=\"img\" aria-label=\"recipients by ten minutes over the last 24 hours\">";
    for (std::size_t i = 0; i < bars.size(); ++i) {
        const auto& b = bars[i];
        const auto h_sent = static_cast<int>(b.sent * height / top), h_other = static_cast<int>((b.deferred + b.failed) * height / top);
        const std::string x = std::to_string(i * width);
        if (h_sent > 0)
            svg += "<rect x=\"" + x + "\" y=\"" + std::to_string(height - h_sent) + "\" width=\"" + std::to_string(width - 1) + "\" height=\"" +
                   std::to_string(h_sent) + "\" fill=\"#2a7\"><title>" + iso(b.start) + ": " + std::to_string(b.sent) + " sent</title></rect>";
        if (h_other > 0)
            svg += "<rect x=\"" + x + "\" y=\"" + std::to_string(height - h_sent - h_other) + "\" width=\"" + std::to_string(width - 1) +
                   "\" height=\"" + std::to_string(h_other) + "\" fill=\"#c33\"><title>" + iso(b.start) + ": " + std::to_string(b.deferred) +
                   " deferred, " + std::to_string(b.failed) + " failed</title></rect>";
    }
    svg += "</svg>";
    auto total = [&](std::size_t last) {
        web_minute t;
        for (std::size_t i = minutes.size() - std::min(last, minutes.size()); i < minutes.size(); ++i) {
            t.submitted += minutes[i].submitted;
            t.finished += minutes[i].finished;
            t.sent += minutes[i].sent;
            t.deferred += minutes[i].deferred;
            t.failed += minutes[i].failed;
        }
        return t;
    };
    std::string table = "<table class=\"counts\"><tr><th></th><th>Submitted</th><th>Finished</th><th>Sent</th><th>Deferred</th><th>Failed</th></tr>";
    for (const auto& [name, span] : {std::pair<std::string_view, std::size_t>{"last hour", 60}, {"last 24 hours", minutes.size()}}) {
        const web_minute t = total(span);
        table += "<tr><th>" + std::string(name) + "</th><td>" + std::to_string(t.submitted) + "</td><td>" + std::to_string(t.finished) + "</td><td>" +
                 std::to_string(t.sent) + "</td><td>" + std::to_string(t.deferred) + "</td><td>" + std::to_string(t.failed) + "</td></tr>";
    }
    return "<h2>The last 24 hours</h2>" + svg + "<p class=\"legend\">Recipients per ten minutes: sent (green), deferred or failed (red).</p>" +
           table + "</table>";
}

inline std::string activity_json(const std::vector<web_minute>& minutes) {
    std::string out = "{\"minutes\":[";
    for (std::size_t i = 0; i < minutes.size(); ++i) {
        const auto& m = minutes[i];
        out += std::string(i ? "," : "") + "{\"start\":" + json_string(iso(m.start)) + ",\"submitted\":" + std::to_string(m.submitted) +
               ",\"finished\":" + std::to_string(m.finished) + ",\"sent\":" + std::to_string(m.sent) + ",\"deferred\":" +
               std::to_string(m.deferred) + ",\"failed\":" + std::to_string(m.failed) + "}";
    }
    return out + "]}\n";
}

/// One destination's row, as the page and the API show it.
struct destination_row {
    std::string transport;
    destination_health health;
    web_minute recent; ///< the last five minutes
};

inline std::string destinations_table(const std::vector<destination_row>& rows) {
    std::string out = "<table><tr><th>Transport</th><th>Destination</th><th>State</th><th>In flight</th><th>Waiting</th>"
                      "<th>Sent (5 min)</th><th>Deferred</th><th>Failed</th><th>Failures in a row</th><th>Next probe</th><th>Last error</th></tr>";
    for (const auto& r : rows) {
        const auto& h = r.health;
        out += "<tr><td>" + html(r.transport) + "</td><td>" + (h.destination.empty() ? std::string("(its one destination)") : html(h.destination)) +
               "</td><td" + (h.what == destination_health::state::up ? "" : " class=\"error\"") + ">" + std::string(health_name(h.what)) +
               "</td><td>" + std::to_string(h.in_flight) + " of " + std::to_string(h.limit) + "</td><td>" + std::to_string(h.waiting) + "</td><td>" +
               std::to_string(r.recent.sent) + "</td><td>" + std::to_string(r.recent.deferred) + "</td><td>" + std::to_string(r.recent.failed) +
               "</td><td>" + std::to_string(h.consecutive_failures) + "</td><td>" +
               (h.what == destination_health::state::up ? std::string() : iso(h.next_probe)) + "</td><td>" + html(h.last_error) + "</td></tr>";
    }
    return out + "</table><p>" + std::to_string(rows.size()) + (rows.size() == 1 ? " destination" : " destinations") +
           " the spooler remembers (with hand-offs in flight or waiting, or failures).</p>";
}

inline std::string destinations_json(const std::vector<destination_row>& rows) {
    std::string out = "{\"destinations\":[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        const auto& h = r.health;
        out += std::string(i ? "," : "") + "{\"transport\":" + json_string(r.transport) + ",\"destination\":" + json_string(h.destination) +
               ",\"state\":" + json_string(health_name(h.what)) + ",\"in_flight\":" + std::to_string(h.in_flight) + ",\"limit\":" +
               std::to_string(h.limit) + ",\"waiting\":" + std::to_string(h.waiting) + ",\"consecutive_failures\":" +
               std::to_string(h.consecutive_failures) + ",\"next_probe\":" +
               (h.what == destination_health::state::up ? std::string("null") : json_string(iso(h.next_probe))) + ",\"last_error\":" +
               json_string(h.last_error) + ",\"recent\":{\"sent\":" + std::to_string(r.recent.sent) + ",\"deferred\":" +
               std::to_string(r.recent.deferred) + ",\"failed\":" + std::to_string(r.recent.failed) + "}}";
    }
    return out + "]}\n";
}

} // namespace spool::detail::web
