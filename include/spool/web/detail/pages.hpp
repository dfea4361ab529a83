#pragma once

// The dashboard's HTML: one layout, plain forms, no script, and a stylesheet
// served from the dashboard itself (the Content-Security-Policy allows
// nothing inline). Every value from a message goes through html().

#include <spool/administration.hpp>
#include <spool/web/credentials.hpp>
#include <spool/web/detail/text.hpp>

#include <chrono>
#include <ctime>
#include <string>
#include <string_view>
#include <span>
#include <utility>

namespace spool::detail::web {

inline constexpr std::string_view stylesheet = R"(body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}
header{background:#234;color:#fff;padding:.5em 1em;display:flex;gap:1.5em;align-items:center}
header a{color:#fff}header form{margin-left:auto}main{padding:1em}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
.error{color:#a00}.counts td{text-align:right}form.inline{display:inline}.headers td{font-family:monospace;white-space:pre-wrap;word-break:break-all}
.chart{display:block;width:100%;max-width:60em;height:8em;border-bottom:1px solid #999}.legend{color:#555}
)";

/// A whole page. Without a `user` (before signing in) it has no links;
/// `csrf` goes in the sign-out form; `more_links` are the pages the store's
/// capabilities add, as (path, name).
inline std::string page(std::string_view base, std::string_view title, const std::string& body, const std::string* user = nullptr,
                        std::string_view csrf = {}, std::span<const std::pair<std::string_view, std::string_view>> more_links = {}) {
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html(title) +
                      " · spool</title><link rel=\"stylesheet\" href=\"" + html(base) + "/static/style.css\"></head><body><header><strong>spool</strong>";
    if (user) {
        out += "<a href=\"" + html(base) + "/\">Overview</a><a href=\"" + html(base) + "/messages\">Messages</a>";
        for (const auto& [path, name] : more_links) out += "<a href=\"" + html(base) + html(path) + "\">" + html(name) + "</a>";
        out += "<form method=\"post\" action=\"" +
               html(base) + "/logout\"><input type=\"hidden\" name=\"csrf\" value=\"" + html(csrf) + "\">" + html(*user) +
               " <button>Sign out</button></form>";
    }
    return out + "</header><main><h1>" + html(title) + "</h1>" + body + "</main></body></html>\n";
}

inline std::string sign_in_form(std::string_view base, std::string_view problem = {}) {
    std::string out;
    if (!problem.empty()) out += "<p class=\"error\">" + html(problem) + "</p>";
    return out + "<form method=\"post\" action=\"" + html(base) +
           "/login\"><p><label>User <input name=\"user\" autocomplete=\"username\" required></label></p>"
           "<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>"
           "<p><button>Sign in</button></p></form>";
}

} // namespace spool::detail::web
