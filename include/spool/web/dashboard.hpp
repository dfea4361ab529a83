#pragma once

// The web dashboard (docs/web.md): pages and a JSON API over any
// AdministeredStore, behind sign-in. It answers one parsed request at a time
// (handle()), whatever serves it: spool::web_server, or the user's own
// Beast server. It includes no store: spoolctl serve picks one.
//
// Secure by default: every page and call but the sign-in needs a session;
// actions are POST, for operators only, and carry the session's CSRF token;
// GET changes nothing; every value from a message is escaped; each answer
// has a Content-Security-Policy that allows no inline script and no framing.

#include <spool/administration.hpp>
#include <spool/delivery.hpp>
#include <spool/error.hpp>
#include <spool/action_log.hpp>
#include <spool/message.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/suppression.hpp>
#include <spool/web/activity.hpp>
#include <spool/web/credentials.hpp>
#include <spool/web/detail/listing.hpp>
#include <spool/web/detail/live_views.hpp>
#include <spool/web/detail/message_view.hpp>
#include <spool/web/detail/pages.hpp>
#include <spool/web/detail/request_checks.hpp>
#include <spool/web/detail/request_rates.hpp>
#include <spool/web/detail/sessions.hpp>
#include <spool/web/detail/text.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <mutex>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace spool {

/// How a dashboard answers.
struct web_options {
    /// The path it is served under behind a reverse proxy ("/spool"), or
    /// empty for the root; every link and the session cookie's path use it.
    std::string base_path;
    /// How long a sign-in lasts.
    std::chrono::seconds session_lifetime{std::chrono::hours{8}};
    /// Messages per page.
    std::size_t page_size = 100;
    /// How many queued messages a page of the messages filtered by error
    /// text reads at most before it offers "more" (the store cannot index
    /// the text, which is inside each stored message).
    std::size_t error_scan_limit = 10000;
    /// The most messages one action on a hand-picked selection takes.
    std::size_t max_selection = 1000;
    /// How long the action log keeps an entry, where the store keeps one
    /// (ActionLogStore); zero: every entry.
    std::chrono::seconds action_log_retention = default_action_log_retention;
    /// Requests a second one client address may make, after a burst of
    /// `request_burst`; a faster client gets 429 and Retry-After. Zero: no limit.
    double requests_per_second = 20;
    double request_burst = 100;
    /// The addresses of reverse proxies whose forwarding headers are
    /// believed: from them, the client is the last address in
    /// X-Forwarded-For that is not a trusted proxy (for the sign-in throttle
    /// and the request rates), and a POST's Origin is compared with
    /// X-Forwarded-Host and X-Forwarded-Proto. From anyone else those headers
    /// are ignored, since a client can write them.
    std::vector<std::string> trusted_proxies;
    /// Whether an address added to the suppression list has its local part
    /// folded to lower case, as the spooler's suppression_policy does when so set.
    bool fold_local_part = false;
};

/// What a dashboard embedded beside a spooler shows from it, besides the
/// store (docs/web.md, "Embedded"): the destinations page, and the
/// overview's charts of the last 24 hours.
struct web_live {
    /// The spooler's destinations now: `[&] { return spooler.destinations(); }`.
    std::function<std::vector<destination_health>()> destinations;
    /// The spooler's work over time: a copy of the web_activity composed with it.
    std::optional<web_activity> activity;
    /// The transports' names, by their place in the composition (empty: numbers).
    std::vector<std::string> transport_names;
};

using web_request = boost::beast::http::request<boost::beast::http::string_body>;
using web_response = boost::beast::http::response<boost::beast::http::string_body>;

template <AdministeredStore Store>
class web_dashboard {
public:
    using message_type = typename Store::message_type;

    web_dashboard(Store& store, web_credentials users, web_options options = {})
        : store_(store), users_(std::move(users)), options_(std::move(options)), sessions_(options_.session_lifetime),
          rates_(options_.requests_per_second, options_.request_burst) {
        if constexpr (SuppressionListStore<Store>) store_pages_.emplace_back("/suppressions", "Suppressions");
        if constexpr (ActionLogStore<Store>) store_pages_.emplace_back("/actions", "Action log");
    }

    /// Embedded beside a spooler: adds the destinations page and the
    /// overview's charts from `live`. Call it before serving.
    void show_live(web_live live) {
        live_ = std::move(live);
        if (live_.destinations && std::none_of(store_pages_.begin(), store_pages_.end(), [](const auto& p) { return p.first == "/destinations"; }))
            store_pages_.insert(store_pages_.begin(), {"/destinations", "Destinations"});
    }

    /// The answer to `request`, from a client at `client_address` (for the
    /// sign-in throttle). Never throws for a request, however malformed:
    /// a store that throws gives 503.
    web_response handle(const web_request& request, const std::string& client_address) {
        try {
            const bool proxied = detail::web::listed(options_.trusted_proxies, client_address);
            const std::string client = proxied ? detail::web::forwarded_client(request, client_address, options_.trusted_proxies) : client_address;
            if (const auto wait = rates_.wait_for(client); wait.count() > 0) {
                web_response r = error(request, http_status::too_many_requests, "too many requests from " + client + ": slow down");
                r.set(boost::beast::http::field::retry_after, std::to_string(wait.count()));
                return r;
            }
            return route(request, client, proxied);
        } catch (const std::exception& e) {
            const std::string_view target = request.target();
            const bool api = target.substr(options_.base_path.size(), 5) == "/api/";
            return refuse(request, api, boost::beast::http::status::service_unavailable, std::string("the store could not answer: ") + e.what());
        }
    }

private:
    using http_status = boost::beast::http::status;
    using verb = boost::beast::http::verb;
    using fields = detail::web::fields;
    using listing = detail::web::listing;

    static constexpr std::string_view cookie_name = "spool_session";

    // --- Routing ------------------------------------------------------------

    web_response route(const web_request& request, const std::string& client_address, bool proxied) {
        std::string_view target = request.target();
        const std::string_view base = options_.base_path;
        if (target.substr(0, base.size()) != base) return error(request, http_status::not_found, "no such page");
        target.remove_prefix(base.size());
        const std::size_t q = target.find('?');
        const std::string_view path = target.substr(0, q);
        const auto query = detail::web::form_fields(q == std::string_view::npos ? std::string_view{} : target.substr(q + 1));
        if (!query) return error(request, http_status::bad_request, "the query is malformed (a broken %-escape, or a field given twice)");
        const bool api = path.substr(0, 5) == "/api/";

        if (path == "/static/style.css") return stylesheet(request);
        if (path == "/login") {
            if (request.method() == verb::get) return html(request, http_status::ok, "Sign in", detail::web::sign_in_form(base));
            if (request.method() == verb::post) return sign_in(request, client_address, proxied);
            return not_allowed(request, "GET, POST");
        }

        if (api)
            if (const auto bearer = detail::web::bearer_token(request)) {
                // A token calls the API with its role; no cookie is involved, so no CSRF token either.
                const auto holder = users_.check_token(*bearer);
                if (!holder) return json_error(request, http_status::unauthorized, "the token is not valid (revoked, or never issued)");
                return route_api(request, detail::web::session{holder->first, holder->second, {}, {}}, path, *query);
            }
        const auto session = session_of(request);
        if (!session) {
            if (api) return json_error(request, http_status::unauthorized, "sign in first");
            web_response r = respond(request, http_status::see_other, "text/plain; charset=utf-8", "sign in first\n");
            r.set(boost::beast::http::field::location, std::string(base) + "/login");
            return r;
        }
        if (request.method() == verb::post) {
            // A POST is the session's own: the same origin, and its CSRF token.
            if (!detail::web::same_origin(request, proxied)) return refuse(request, api, http_status::forbidden, "a request from another site");
            if (!detail::web::carries_csrf(request, session->csrf))
                return refuse(request, api, http_status::forbidden, "the form is stale or forged (no valid CSRF token): reload the page");
        } else if (request.method() != verb::get && request.method() != verb::head) {
            return not_allowed(request, "GET, POST");
        }
        if (path == "/logout") {
            if (request.method() != verb::post) return not_allowed(request, "POST");
            sessions_.close(detail::web::cookie_value(request, cookie_name));
            web_response r = respond(request, http_status::see_other, "text/plain; charset=utf-8", "signed out\n");
            r.set(boost::beast::http::field::location, std::string(base) + "/login");
            r.set(boost::beast::http::field::set_cookie, cookie("", std::chrono::seconds{0}));
            return r;
        }

        return routed(request, *session, path, *query, api);
    }

    web_response route_api(const web_request& request, const detail::web::session& s, std::string_view path, const fields& query) {
        if (request.method() != verb::get && request.method() != verb::post) return not_allowed(request, "GET, POST");
        return routed(request, s, path, query, true);
    }

    // The pages and calls of a signed-in session (or an API token's).
    web_response routed(const web_request& request, const detail::web::session& s, std::string_view path, const fields& query, bool api) {
        std::string_view rest = api ? path.substr(4) : path; // "/api/messages/7" -> "/messages/7"
        if (rest == "/" || rest.empty() || rest == "/counts") {
            if (request.method() != verb::get) return not_allowed(request, "GET");
            return api ? counts_json(request) : overview(request, s);
        }
        if (rest == "/messages") {
            if (request.method() != verb::get) return not_allowed(request, "GET");
            return messages(request, s, query, api);
        }
        if (rest == "/destinations" || (api && rest == "/activity")) {
            if (request.method() != verb::get) return not_allowed(request, "GET");
            if (rest == "/activity") {
                if (!live_.activity) return refuse(request, api, http_status::not_found, "no spooler's activity here: the dashboard is not embedded in one");
                return respond(request, http_status::ok, "application/json", detail::web::activity_json(live_.activity->last_day()));
            }
            if (!live_.destinations) return refuse(request, api, http_status::not_found, "no spooler's destinations here: the dashboard is not embedded in one");
            return destinations(request, s, api);
        }
        if (rest == "/messages/count") {
            if (request.method() != verb::get) return not_allowed(request, "GET");
            return count_matching(request, query, api);
        }
        if (rest.substr(0, 14) == "/messages/all/") {
            if (request.method() != verb::post) return not_allowed(request, "POST");
            return act_on_all(request, s, rest.substr(14), query, api);
        }
        if (rest.substr(0, 19) == "/messages/selected/") {
            if (request.method() != verb::post) return not_allowed(request, "POST");
            return act_on_selected(request, s, rest.substr(19), api);
        }
        if (rest == "/actions") {
            if (request.method() != verb::get) return not_allowed(request, "GET");
            if constexpr (ActionLogStore<Store>) return action_log(request, s, query, api);
            else return refuse(request, api, http_status::not_found, "this store keeps no action log");
        }
        if (rest == "/suppressions" || rest == "/suppressions/add" || rest == "/suppressions/remove") {
            if constexpr (SuppressionListStore<Store>) {
                if (rest == "/suppressions") {
                    if (request.method() != verb::get) return not_allowed(request, "GET");
                    return suppressions(request, s, query, api);
                }
                if (request.method() != verb::post) return not_allowed(request, "POST");
                return change_suppression(request, s, rest == "/suppressions/add", api);
            } else {
                return refuse(request, api, http_status::not_found, "this store keeps no suppression list");
            }
        }
        if (rest.substr(0, 10) == "/messages/") {
            rest.remove_prefix(10);
            const std::size_t slash = rest.find('/');
            const auto id = detail::web::parse_id(rest.substr(0, slash));
            if (!id) return refuse(request, api, http_status::bad_request, "'" + std::string(rest.substr(0, slash)) + "' is not a message id");
            if (slash == std::string_view::npos) {
                if (request.method() != verb::get) return not_allowed(request, "GET");
                return message(request, s, *id, api);
            }
            if (request.method() != verb::post) return not_allowed(request, "POST");
            return act(request, s, *id, rest.substr(slash + 1), api);
        }
        return refuse(request, api, http_status::not_found, "no such page");
    }

    // --- Sign-in ------------------------------------------------------------

    web_response sign_in(const web_request& request, const std::string& client_address, bool proxied) {
        const std::string_view base = options_.base_path;
        if (!detail::web::same_origin(request, proxied)) return error(request, http_status::forbidden, "a sign-in from another site");
        const auto form = detail::web::form_fields(request.body());
        const auto user = form ? form->find("user") : fields::const_iterator{};
        const auto password = form ? form->find("password") : fields::const_iterator{};
        if (!form || user == form->end() || password == form->end())
            return html(request, http_status::bad_request, "Sign in", detail::web::sign_in_form(base, "Give a user and a password."));
        if (const auto wait = sessions_.wait_before_sign_in(client_address, user->second); wait.count() > 0) {
            web_response r = html(request, http_status::too_many_requests, "Sign in",
                                  detail::web::sign_in_form(base, "Too many failed sign-ins: try again in " + std::to_string(wait.count()) + " s."));
            r.set(boost::beast::http::field::retry_after, std::to_string(wait.count()));
            return r;
        }
        const auto role = users_.check(user->second, password->second);
        if (!role) {
            sessions_.failed_sign_in(client_address, user->second);
            return html(request, http_status::unauthorized, "Sign in", detail::web::sign_in_form(base, "Wrong user or password."));
        }
        sessions_.signed_in(client_address, user->second);
        web_response r = respond(request, http_status::see_other, "text/plain; charset=utf-8", "signed in\n");
        r.set(boost::beast::http::field::location, std::string(base) + "/");
        r.set(boost::beast::http::field::set_cookie, cookie(sessions_.open(user->second, *role), sessions_.lifetime()));
        return r;
    }

    std::string cookie(const std::string& id, std::chrono::seconds max_age) const {
        const std::string path = options_.base_path.empty() ? "/" : options_.base_path;
        return std::string(cookie_name) + "=" + id + "; Path=" + path + "; Max-Age=" + std::to_string(max_age.count()) +
               "; HttpOnly; Secure; SameSite=Strict";
    }

    std::optional<detail::web::session> session_of(const web_request& request) const {
        const std::string id = detail::web::cookie_value(request, cookie_name);
        if (id.empty()) return std::nullopt;
        return sessions_.find(id);
    }

    // --- Pages and calls ----------------------------------------------------

    web_response overview(const web_request& request, const detail::web::session& s) {
        const queue_counts c = store_.count_queue(std::chrono::system_clock::now());
        const std::string base = options_.base_path;
        std::string body = "<table class=\"counts\"><tr><th>State</th><th>Messages</th></tr>";
        auto row = [&](std::string_view name, std::string_view state, std::size_t n) {
            body += "<tr><th>" + std::string(name) + "</th><td>";
            if (state.empty()) body += std::to_string(n);
            else body += "<a href=\"" + detail::web::html(base) + "/messages?state=" + std::string(state) + "\">" + std::to_string(n) + "</a>";
            body += "</td></tr>";
        };
        row("queued", "", c.total);
        row("due", "due", c.due);
        row("deferred", "deferred", c.deferred);
        row("waiting for a destination", "waiting", c.waiting);
        row("held", "held", c.held);
        row("in hand", "in_hand", c.in_hand);
        row("requested", "", c.requested);
        body += "</table>";
        const auto oldest = store_.list_queue({}, std::chrono::system_clock::now(), message_id{}, 1); // the lowest id: submitted first
        if (!oldest.empty())
            body += "<p>The oldest queued message is <a href=\"" + detail::web::html(base) + "/messages/" +
                    std::to_string(static_cast<std::uint64_t>(oldest.front().id)) + "\">" +
                    std::to_string(static_cast<std::uint64_t>(oldest.front().id)) + "</a>, submitted " + detail::web::iso(oldest.front().submit_time) +
                    " (" + std::string(to_string(oldest.front().state)) + ").</p>";
        if (live_.activity) body += detail::web::activity_chart(live_.activity->last_day());
        return page(request, s, "Overview", body);
    }

    web_response counts_json(const web_request& request) {
        const queue_counts c = store_.count_queue(std::chrono::system_clock::now());
        const std::string body = "{\"total\":" + std::to_string(c.total) + ",\"due\":" + std::to_string(c.due) + ",\"deferred\":" +
                                 std::to_string(c.deferred) + ",\"held\":" + std::to_string(c.held) + ",\"in_hand\":" +
                                 std::to_string(c.in_hand) + ",\"requested\":" + std::to_string(c.requested) + ",\"waiting\":" +
                                 std::to_string(c.waiting) + "}\n";
        return respond(request, http_status::ok, "application/json", body);
    }

    web_response destinations(const web_request& request, const detail::web::session& s, bool api) {
        std::vector<detail::web::destination_row> rows;
        for (destination_health& h : live_.destinations()) {
            detail::web::destination_row r;
            r.transport = h.transport < live_.transport_names.size() ? live_.transport_names[h.transport] : std::to_string(h.transport);
            if (live_.activity) r.recent = live_.activity->recent(h.transport, h.destination);
            r.health = std::move(h);
            rows.push_back(std::move(r));
        }
        // Trouble first: down, then probing, then by hand-offs waiting.
        std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
            const auto rank = [](const auto& r) { return r.health.what == destination_health::state::up ? 2 : r.health.what == destination_health::state::down ? 0 : 1; };
            if (rank(a) != rank(b)) return rank(a) < rank(b);
            return a.health.waiting > b.health.waiting;
        });
        if (api) return respond(request, http_status::ok, "application/json", detail::web::destinations_json(rows));
        return page(request, s, "Destinations", detail::web::destinations_table(rows));
    }

    // A page of the listing. The store filters by state, domain and age
    // through its indexes; a filter on error text is applied here, to at
    // most error_scan_limit rows per page, and a page that stops there
    // continues after the last row read ("more").
    struct listed_page {
        std::vector<basic_queued_message<message_type>> rows;
        std::size_t scanned = 0;
        std::optional<message_id> next_after; ///< where the next page starts; none at the end
    };
    listed_page list_page(const listing& l) {
        listed_page p;
        const auto now = std::chrono::system_clock::now();
        if (l.error_text.empty()) {
            p.rows = store_.list_queue(l.filter, now, l.after, options_.page_size);
            p.scanned = p.rows.size();
            if (p.rows.size() == options_.page_size) p.next_after = p.rows.back().id;
            return p;
        }
        const std::size_t limit = std::max<std::size_t>(options_.error_scan_limit, 1);
        for (message_id after = l.after;;) {
            const std::size_t want = std::min(chunk, limit - p.scanned);
            auto rows = store_.list_queue(l.filter, now, after, want);
            p.scanned += rows.size();
            for (auto& q : rows) {
                after = q.id;
                if (!l.matches(q)) continue;
                p.rows.push_back(std::move(q));
                if (p.rows.size() == options_.page_size) {
                    p.next_after = after;
                    return p;
                }
            }
            if (rows.size() < want) return p; // the end of the queue
            if (p.scanned >= limit) {
                p.next_after = after;
                return p;
            }
        }
    }

    web_response messages(const web_request& request, const detail::web::session& s, const fields& query, bool api) {
        auto parsed = detail::web::listing_of(query);
        if (auto* why = std::get_if<std::string>(&parsed)) return refuse(request, api, http_status::bad_request, *why);
        const listing& l = std::get<listing>(parsed);
        const listed_page p = list_page(l);
        const std::string next = p.next_after ? std::to_string(static_cast<std::uint64_t>(*p.next_after)) : std::string();
        if (api) {
            std::string body = "{\"messages\":[";
            for (std::size_t i = 0; i < p.rows.size(); ++i) body += (i ? "," : "") + detail::web::message_json(p.rows[i]);
            return respond(request, http_status::ok, "application/json",
                           body + "],\"scanned\":" + std::to_string(p.scanned) + ",\"next_after\":" + (next.empty() ? "null" : next) + "}\n");
        }
        using detail::web::html;
        const std::string base = html(options_.base_path);
        const bool operator_ = s.role == web_role::operator_;
        std::string body = "<form method=\"get\" action=\"" + base + "/messages\">State <select name=\"state\"><option value=\"\">any</option>";
        for (auto x : detail::web::listed_states) {
            const std::string name(to_string(x));
            body += "<option" + std::string(l.filter.state == x ? " selected" : "") + ">" + name + "</option>";
        }
        body += "</select> Domain <input name=\"domain\" value=\"" + html(l.filter.domain) + "\"> Older than <input name=\"older_than\" size=\"6\" value=\"" +
                (l.filter.older_than ? std::to_string(l.filter.older_than->count()) : std::string()) + "\"> s Error text <input name=\"error\" value=\"" +
                html(l.error_text) + "\"> <button>Filter</button></form>";
        // The checked boxes go to /messages/selected/ACTION: one form, a button per action.
        if (operator_)
            body += "<form method=\"post\" action=\"" + base + "/messages/selected/hold\"><input type=\"hidden\" name=\"csrf\" value=\"" +
                    html(s.csrf) + "\">";
        body += "<table><tr>" + std::string(operator_ ? "<th></th>" : "") +
                "<th>Id</th><th>Submitted</th><th>State</th><th>From</th><th>Subject</th><th>Recipients</th></tr>";
        for (const auto& q : p.rows) {
            const std::string id = std::to_string(static_cast<std::uint64_t>(q.id));
            body += "<tr>";
            if (operator_) body += "<td><input type=\"checkbox\" name=\"id\" value=\"" + id + "\" aria-label=\"select " + id + "\"></td>";
            body += "<td><a href=\"" + base + "/messages/" + id + "\">" + id + "</a></td><td>" + detail::web::iso(q.submit_time) + "</td><td>" +
                    std::string(to_string(q.state)) + "</td>";
            if (q.message) {
                body += "<td>" + html(q.message->sender.address) + "</td><td>" + html(detail::web::subject_of(*q.message)) + "</td><td>" +
                        std::to_string(q.message->recipients.size()) + "</td>";
            } else {
                body += "<td colspan=\"3\" class=\"error\">cannot be read here: " + html(q.message.error().message()) + "</td>";
            }
            body += "</tr>";
        }
        body += "</table>";
        if (operator_) {
            body += "<p>Selected: ";
            for (std::string_view a : actions)
                body += "<button formaction=\"" + base + "/messages/selected/" + std::string(a) + "\">" + std::string(a) + "</button> ";
            body += "</p></form>";
        }
        body += "<p>" + std::to_string(p.rows.size()) + (p.rows.size() == 1 ? " message" : " messages");
        if (!l.error_text.empty()) body += " (" + std::to_string(p.scanned) + " read for the error text)";
        if (operator_) {
            // Everything matching, not only this page: each button asks for a confirmation with the count.
            const std::string filtered = l.query.empty() ? "" : "?" + html(l.query);
            body += "</p><p>Everything matching this filter: ";
            for (std::string_view a : actions)
                body += "<form class=\"inline\" method=\"post\" action=\"" + base + "/messages/all/" + std::string(a) + filtered +
                        "\"><input type=\"hidden\" name=\"csrf\" value=\"" + html(s.csrf) + "\"><button>" + std::string(a) + " all</button></form> ";
        }
        if (!next.empty())
            body += " · <a href=\"" + base + "/messages?" + html(l.query) + (l.query.empty() ? "" : "&amp;") + "after=" + next + "\">" +
                    (p.rows.size() == options_.page_size ? "next page" : "more") + "</a>";
        return page(request, s, "Messages", body + "</p>");
    }

    web_response message(const web_request& request, const detail::web::session& s, message_id id, bool api) {
        const auto q = store_.inspect(id, std::chrono::system_clock::now());
        if (!q) return not_queued(request, api, id, q.error());
        if (api) return respond(request, http_status::ok, "application/json", detail::web::message_json(*q) + "\n");
        using detail::web::html;
        std::string body = "<table><tr><th>State</th><td>" + std::string(to_string(q->state));
        if (q->request != admin_request::none) body += " (" + std::string(to_string(q->request)) + " requested)";
        if (!q->waiting_for.empty()) body += " for " + html(q->waiting_for);
        if (!q->lease_owner.empty() && q->state == queue_state::in_hand) body += " by " + html(q->lease_owner);
        body += "</td></tr><tr><th>Submitted</th><td>" + detail::web::iso(q->submit_time) + "</td></tr><tr><th>Size</th><td>" +
                std::to_string(q->size) + " bytes</td></tr><tr><th>Next attempt</th><td>" +
                detail::web::iso(std::max(q->next_attempt, q->submit_time)) + "</td></tr>";
        if (q->held_since) body += "<tr><th>Held since</th><td>" + detail::web::iso(*q->held_since) + "</td></tr>";
        if (q->message) {
            const auto& m = *q->message;
            body += "<tr><th>Class</th><td>" + html(m.message_class) + "</td></tr><tr><th>From</th><td>" + html(m.sender.address) +
                    "</td></tr><tr><th>Subject</th><td>" + html(detail::web::subject_of(m)) + "</td></tr></table><h2>Recipients</h2><table><tr><th>Address</th><th>Type</th><th>Status</th><th>Attempts</th><th>Next attempt</th><th>Last reply</th></tr>";
            for (const recipient& r : m.recipients) {
                body += "<tr><td>" + html(r.address) + "</td><td>" + html(r.address_type) + "</td><td>" + detail::web::recipient_status_name(r) + "</td>";
                if (const auto* d = std::get_if<status::deferred>(&r.status))
                    body += "<td>" + std::to_string(d->attempts) + "</td><td>" + detail::web::iso(d->next_attempt) + "</td><td>" + html(d->reason) + "</td>";
                else if (const auto* f = std::get_if<status::failed>(&r.status))
                    body += "<td></td><td></td><td>" + html(f->reason) + "</td>";
                else
                    body += "<td></td><td></td><td></td>";
                body += "</tr>";
            }
            body += "</table>";
            if (const auto headers = detail::web::header_fields(m); !headers.empty()) {
                body += "<h2>Headers</h2><table class=\"headers\">";
                for (const auto& [name, value] : headers) body += "<tr><th>" + html(name) + "</th><td>" + html(value) + "</td></tr>";
                body += "</table>";
            }
        } else {
            body += "<tr><th>Message</th><td class=\"error\">cannot be read here: " + html(q->message.error().message()) + "</td></tr></table>";
        }
        if (s.role == web_role::operator_) {
            body += "<h2>Actions</h2>";
            for (std::string_view a : {"hold", "release", "flush", "expire", "delete", "delete_with_report"})
                body += "<form class=\"inline\" method=\"post\" action=\"" + html(options_.base_path) + "/messages/" +
                        std::to_string(static_cast<std::uint64_t>(id)) + "/" + std::string(a) + "\"><input type=\"hidden\" name=\"csrf\" value=\"" +
                        html(s.csrf) + "\"><button>" + std::string(a) + "</button></form> ";
        }
        return page(request, s, "Message " + std::to_string(static_cast<std::uint64_t>(id)), body);
    }

    // One administrative operation by its name in a path; none for an unknown name.
    std::optional<result<admin_outcome>> apply(std::string_view action, message_id id) {
        const auto now = std::chrono::system_clock::now();
        if (action == "hold") return store_.hold(id, now);
        if (action == "release") return store_.release(id, now);
        if (action == "flush") return store_.request(id, admin_request::flush);
        if (action == "expire") return store_.request(id, admin_request::expire);
        if (action == "delete") return store_.request(id, admin_request::remove);
        if (action == "delete_with_report") return store_.request(id, admin_request::remove_with_report);
        return std::nullopt;
    }
    static bool known_action(std::string_view action) {
        for (std::string_view a : actions)
            if (a == action) return true;
        return false;
    }
    static constexpr std::string_view actions[] = {"hold", "release", "flush", "expire", "delete", "delete_with_report"};
    static constexpr std::string_view no_such_action = "no such action (hold, release, flush, expire, delete, delete_with_report)";

    web_response act(const web_request& request, const detail::web::session& s, message_id id, std::string_view action, bool api) {
        if (s.role != web_role::operator_) return refuse(request, api, http_status::forbidden, "only an operator acts on messages");
        const auto done = apply(action, id);
        if (!done) return refuse(request, api, http_status::not_found, std::string(no_such_action));
        const message_id one[] = {id};
        if (!*done) {
            const std::error_code ec = done->error();
            if (ec == errc::not_found || ec == errc::not_in_queue) (void)logged(s, action, logged_ids(one), 0, 1, 0);
            return not_queued(request, api, id, ec);
        }
        const std::string log_problem = logged(s, action, logged_ids(one), 1, 0, 0);
        const std::string outcome(to_string(**done));
        if (api)
            return respond(request, http_status::ok, "application/json",
                           "{\"id\":" + std::to_string(static_cast<std::uint64_t>(id)) + ",\"operation\":" + detail::web::json_string(action) +
                               ",\"result\":" + detail::web::json_string(outcome) + log_problem_json(log_problem) + "}\n");
        const std::string link = detail::web::html(options_.base_path) + "/messages/" + std::to_string(static_cast<std::uint64_t>(id));
        return page(request, s, "Done",
                    "<p>" + std::string(action) + " of <a href=\"" + link + "\">message " + std::to_string(static_cast<std::uint64_t>(id)) + "</a>: " +
                        outcome + (**done == admin_outcome::requested ? " (a hand-off holds it: the spooler applies it when the hand-off ends)" : "") +
                        ".</p>" + log_problem_html(log_problem));
    }

    // --- A hand-picked selection --------------------------------------------
    // The messages page's checked boxes (form fields `id`, repeated): the
    // action on each, one commit per chunk where the store batches; the
    // answer says how many were done and refused (no longer queued).

    web_response act_on_selected(const web_request& request, const detail::web::session& s, std::string_view action, bool api) {
        if (s.role != web_role::operator_) return refuse(request, api, http_status::forbidden, "only an operator acts on messages");
        if (!known_action(action)) return refuse(request, api, http_status::not_found, std::string(no_such_action));
        const auto form = detail::web::form_pairs(request.body());
        if (!form) return refuse(request, api, http_status::bad_request, "the form is malformed (a broken %-escape)");
        std::vector<message_id> ids;
        for (const auto& [name, value] : *form) {
            if (name != "id") continue;
            const auto id = detail::web::parse_id(value);
            if (!id) return refuse(request, api, http_status::bad_request, "'" + value + "' is not a message id");
            if (std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(*id);
        }
        if (ids.empty()) return refuse(request, api, http_status::bad_request, "no message is selected (give one or more fields id)");
        if (ids.size() > options_.max_selection)
            return refuse(request, api, http_status::payload_too_large,
                          "at most " + std::to_string(options_.max_selection) + " messages at once: act on everything matching a filter instead");
        std::size_t done = 0, refused = 0;
        for (std::size_t at = 0; at < ids.size(); at += chunk) {
            const std::span<const message_id> part(ids.data() + at, std::min(chunk, ids.size() - at));
            const auto counted = apply_to(action, part);
            done += counted.first;
            refused += counted.second;
        }
        const std::string log_problem = logged(s, action, logged_ids(ids), done, refused, 0);
        if (api)
            return respond(request, http_status::ok, "application/json",
                           "{\"operation\":" + detail::web::json_string(action) + ",\"done\":" + std::to_string(done) + ",\"refused\":" +
                               std::to_string(refused) + log_problem_json(log_problem) + "}\n");
        return page(request, s, "Done",
                    "<p>" + std::string(action) + " of the " + std::to_string(ids.size()) + " selected: " + std::to_string(done) + " done, " +
                        std::to_string(refused) + " refused (no longer queued).</p>" + log_problem_html(log_problem) + "<p><a href=\"" +
                        detail::web::html(options_.base_path) + "/messages\">Back to the messages</a></p>");
    }

    // The action on `ids`, in one commit where the store batches: how many were done and refused.
    std::pair<std::size_t, std::size_t> apply_to(std::string_view action, std::span<const message_id> ids) {
        std::size_t done = 0, refused = 0;
        auto run = [&] {
            for (message_id id : ids) {
                const auto outcome = *apply(action, id);
                if (outcome) ++done;
                else if (outcome.error() == errc::not_found || outcome.error() == errc::not_in_queue) ++refused;
                else throw std::system_error(outcome.error());
            }
        };
        if constexpr (BatchingStore<Store>) {
            if (auto ec = store_.batch(run)) throw std::system_error(ec, "the store could not commit the action");
        } else {
            run();
        }
        return {done, refused};
    }

    // --- The action log ------------------------------------------------------

    // Who the log names: the user, and whether through the pages or a token.
    static std::string who(const detail::web::session& s) { return s.user + (s.csrf.empty() ? " (API token)" : " (web)"); }

    // Logs an action where the store keeps a log. The action is done either
    // way: a log that cannot be written gives the words to say so, not a failure.
    std::string logged(const detail::web::session& s, std::string_view action, std::string target, std::uint64_t done, std::uint64_t refused,
                       std::uint64_t skipped) {
        if constexpr (ActionLogStore<Store>) {
            const logged_action entry{0, std::chrono::system_clock::now(), who(s), std::string(action), std::move(target), done, refused, skipped};
            if (const auto ec = record_action(store_, entry, options_.action_log_retention))
                return "done, but the action log could not be written: " + ec.message();
        }
        return {};
    }
    static std::string log_problem_json(const std::string& problem) {
        return problem.empty() ? std::string() : ",\"log_error\":" + detail::web::json_string(problem);
    }
    static std::string log_problem_html(const std::string& problem) {
        return problem.empty() ? std::string() : "<p class=\"error\">" + detail::web::html(problem) + "</p>";
    }

    template <class S = Store>
        requires ActionLogStore<S>
    web_response action_log(const web_request& request, const detail::web::session& s, const fields& query, bool api) {
        std::int64_t before = 0;
        for (const auto& [name, value] : query) {
            if (name != "before") return refuse(request, api, http_status::bad_request, "unknown field '" + name + "' (before)");
            const auto key = detail::web::parse_number(value);
            if (!key || *key == 0 || *key > static_cast<std::uint64_t>(INT64_MAX))
                return refuse(request, api, http_status::bad_request, "before is an entry's key, not '" + value + "'");
            before = static_cast<std::int64_t>(*key);
        }
        const auto entries = store_.action_log(before, options_.page_size);
        if (!entries) throw std::system_error(entries.error(), "reading the action log");
        const bool more = entries->size() == options_.page_size;
        using detail::web::json_string;
        if (api) {
            std::string body = "{\"actions\":[";
            for (std::size_t i = 0; i < entries->size(); ++i) {
                const logged_action& a = (*entries)[i];
                body += std::string(i ? "," : "") + "{\"key\":" + std::to_string(a.key) + ",\"at\":" + json_string(detail::web::iso(a.at)) +
                        ",\"who\":" + json_string(a.who) + ",\"action\":" + json_string(a.action) + ",\"target\":" + json_string(a.target) +
                        ",\"done\":" + std::to_string(a.done) + ",\"refused\":" + std::to_string(a.refused) + ",\"skipped\":" +
                        std::to_string(a.skipped) + "}";
            }
            return respond(request, http_status::ok, "application/json",
                           body + "],\"next_before\":" + (more ? std::to_string(entries->back().key) : std::string("null")) + "}\n");
        }
        using detail::web::html;
        std::string body = "<table><tr><th>When</th><th>Who</th><th>Action</th><th>On</th><th>Done</th><th>Refused</th><th>Skipped</th></tr>";
        for (const logged_action& a : *entries)
            body += "<tr><td>" + detail::web::iso(a.at) + "</td><td>" + html(a.who) + "</td><td>" + html(a.action) + "</td><td>" + html(a.target) +
                    "</td><td>" + std::to_string(a.done) + "</td><td>" + std::to_string(a.refused) + "</td><td>" + std::to_string(a.skipped) +
                    "</td></tr>";
        body += "</table><p>" + std::to_string(entries->size()) + (entries->size() == 1 ? " entry" : " entries");
        if (more) body += " · <a href=\"" + html(options_.base_path) + "/actions?before=" + std::to_string(entries->back().key) + "\">older</a>";
        return page(request, s, "Action log", body + "</p>");
    }

    // --- The suppression list (docs/suppression.md) --------------------------
    // Where the store keeps one: a page of entries in address order, and for
    // operators a form to add one and a button to remove each.

    template <class S = Store>
        requires SuppressionListStore<S>
    web_response suppressions(const web_request& request, const detail::web::session& s, const fields& query, bool api) {
        std::string after;
        for (const auto& [name, value] : query) {
            if (name != "after") return refuse(request, api, http_status::bad_request, "unknown field '" + name + "' (after)");
            after = value;
        }
        const auto now = std::chrono::system_clock::now();
        const auto entries = store_.list_suppressions(after, options_.page_size, now);
        if (!entries) throw std::system_error(entries.error(), "reading the suppression list");
        const auto count = store_.count_suppressions(now);
        if (!count) throw std::system_error(count.error(), "counting the suppression list");
        const bool more = entries->size() == options_.page_size;
        using detail::web::iso;
        using detail::web::json_string;
        if (api) {
            std::string body = "{\"count\":" + std::to_string(*count) + ",\"suppressions\":[";
            for (std::size_t i = 0; i < entries->size(); ++i) {
                const suppression_entry& e = (*entries)[i];
                body += std::string(i ? "," : "") + "{\"address\":" + json_string(e.address) + ",\"reason\":" + json_string(e.reason) +
                        ",\"diagnostic\":" + json_string(e.diagnostic) + ",\"added\":" + json_string(iso(e.added)) + ",\"expires\":" +
                        (e.expires ? json_string(iso(*e.expires)) : std::string("null")) + ",\"source\":" +
                        std::to_string(static_cast<std::uint64_t>(e.source)) + "}";
            }
            return respond(request, http_status::ok, "application/json",
                           body + "],\"next_after\":" + (more ? json_string(entries->back().address) : std::string("null")) + "}\n");
        }
        using detail::web::html;
        const std::string base = html(options_.base_path);
        const bool operator_ = s.role == web_role::operator_;
        std::string body = "<p>" + std::to_string(*count) + (*count == 1 ? " address" : " addresses") +
                           " on the list: the spooler sends them no more mail.</p>";
        if (operator_)
            body += "<form method=\"post\" action=\"" + base + "/suppressions/add\"><input type=\"hidden\" name=\"csrf\" value=\"" +
                    html(s.csrf) + "\">Address <input name=\"address\" required> Reason <input name=\"reason\"> Expires in "
                    "<input name=\"expires_in\" size=\"8\"> s <button>Add</button></form>";
        body += "<table><tr><th>Address</th><th>Since</th><th>Until</th><th>Code</th><th>Reason</th><th>Message</th>" +
                std::string(operator_ ? "<th></th>" : "") + "</tr>";
        for (const suppression_entry& e : *entries) {
            body += "<tr><td>" + html(e.address) + "</td><td>" + iso(e.added) + "</td><td>" + (e.expires ? iso(*e.expires) : "removed") +
                    "</td><td>" + html(e.diagnostic) + "</td><td>" + html(e.reason) + "</td><td>";
            if (e.source != message_id{}) body += std::to_string(static_cast<std::uint64_t>(e.source));
            body += "</td>";
            if (operator_)
                body += "<td><form class=\"inline\" method=\"post\" action=\"" + base + "/suppressions/remove\"><input type=\"hidden\" "
                        "name=\"csrf\" value=\"" + html(s.csrf) + "\"><input type=\"hidden\" name=\"address\" value=\"" + html(e.address) +
                        "\"><button>remove</button></form></td>";
            body += "</tr>";
        }
        body += "</table>";
        if (more)
            body += "<p><a href=\"" + base + "/suppressions?after=" + html(detail::web::percent_encoded(entries->back().address)) + "\">next page</a></p>";
        return page(request, s, "Suppression list", body);
    }

    template <class S = Store>
        requires SuppressionListStore<S>
    web_response change_suppression(const web_request& request, const detail::web::session& s, bool add, bool api) {
        if (s.role != web_role::operator_) return refuse(request, api, http_status::forbidden, "only an operator changes the suppression list");
        const auto form = detail::web::form_fields(request.body());
        if (!form) return refuse(request, api, http_status::bad_request, "the form is malformed (a broken %-escape, or a field given twice)");
        auto field = [&](std::string_view name) {
            const auto it = form->find(name);
            return it == form->end() ? std::string() : it->second;
        };
        const std::string key = suppression_key(field("address"), options_.fold_local_part);
        if (key.find('@') == std::string::npos || key.size() > 320)
            return refuse(request, api, http_status::bad_request, "not an address: '" + field("address") + "'");
        std::error_code ec;
        if (add) {
            const auto now = std::chrono::system_clock::now();
            suppression_entry e{key, field("reason").empty() ? "added by " + s.user + " (web)" : field("reason"), "", now, std::nullopt, {}};
            if (e.reason.size() > 1000) return refuse(request, api, http_status::bad_request, "the reason is at most 1000 characters");
            if (const std::string in = field("expires_in"); !in.empty()) {
                const auto seconds = detail::web::parse_number(in);
                if (!seconds || *seconds > (1ull << 40))
                    return refuse(request, api, http_status::bad_request, "expires_in is a number of seconds, not '" + in + "'");
                e.expires = now + std::chrono::seconds{static_cast<std::int64_t>(*seconds)};
            }
            ec = store_.suppress(e);
        } else {
            ec = store_.unsuppress(key);
        }
        const bool absent = ec == errc::not_found;
        if (ec && !absent) throw std::system_error(ec, "changing the suppression list");
        const std::string log_problem = logged(s, add ? "suppress" : "unsuppress", key, absent ? 0 : 1, absent ? 1 : 0, 0);
        if (absent) return refuse(request, api, http_status::not_found, key + ": not on the suppression list");
        if (api)
            return respond(request, http_status::ok, "application/json",
                           "{\"address\":" + detail::web::json_string(key) + ",\"operation\":\"" + (add ? "add" : "remove") +
                               "\",\"result\":\"applied\"" + log_problem_json(log_problem) + "}\n");
        return page(request, s, "Done",
                    "<p>" + detail::web::html(key) + (add ? ": on the suppression list." : ": removed from the suppression list.") + "</p>" +
                        log_problem_html(log_problem) + "<p><a href=\"" + detail::web::html(options_.base_path) +
                        "/suppressions\">Back to the list</a></p>");
    }

    // --- Everything matching a filter ----------------------------------------
    // Counted first: how many match, and the highest id among them. The
    // action then applies to matching messages up to that id only, so a
    // message that arrives between the count and the confirmation is left
    // alone (counted as skipped), and a message that left the queue meanwhile
    // is counted as refused. Written a chunk at a time, one commit per chunk
    // where the store batches.

    struct matching {
        std::size_t count = 0;
        message_id highest{};
    };
    matching count_of(const listing& l) {
        matching m;
        const auto now = std::chrono::system_clock::now();
        for (message_id after{};;) {
            const auto page_rows = store_.list_queue(l.filter, now, after, chunk);
            for (const auto& q : page_rows)
                if (l.matches(q)) {
                    ++m.count;
                    m.highest = q.id;
                }
            if (page_rows.size() < chunk) return m;
            after = page_rows.back().id;
        }
    }

    web_response count_matching(const web_request& request, const fields& query, bool api) {
        auto parsed = detail::web::listing_of(query);
        if (auto* why = std::get_if<std::string>(&parsed)) return refuse(request, api, http_status::bad_request, *why);
        const matching m = count_of(std::get<listing>(parsed));
        if (!api) return refuse(request, api, http_status::not_found, "no such page");
        return respond(request, http_status::ok, "application/json",
                       "{\"count\":" + std::to_string(m.count) + ",\"up_to\":" + std::to_string(static_cast<std::uint64_t>(m.highest)) + "}\n");
    }

    web_response act_on_all(const web_request& request, const detail::web::session& s, std::string_view action, const fields& query, bool api) {
        if (s.role != web_role::operator_) return refuse(request, api, http_status::forbidden, "only an operator acts on messages");
        if (!known_action(action)) return refuse(request, api, http_status::not_found, std::string(no_such_action));
        auto parsed = detail::web::listing_of(query);
        if (auto* why = std::get_if<std::string>(&parsed)) return refuse(request, api, http_status::bad_request, *why);
        const listing& l = std::get<listing>(parsed);
        if (l.after != message_id{}) return refuse(request, api, http_status::bad_request, "an action on everything matching takes no 'after'");
        const auto form = detail::web::form_fields(request.body());
        const auto up_to_field = form ? form->find("up_to") : fields::const_iterator{};
        const std::string target = detail::web::html(options_.base_path) + "/messages/all/" + std::string(action) +
                                   (l.query.empty() ? "" : "?" + detail::web::html(l.query));
        if (!form || up_to_field == form->end()) {
            if (api) return json_error(request, http_status::bad_request, "give up_to: the highest id of a count (GET /api/messages/count)");
            // The confirmation: the count, and the highest id it covers.
            const matching m = count_of(l);
            return page(request, s, "Confirm",
                        "<p>" + std::string(action) + " " + std::to_string(m.count) + (m.count == 1 ? " message" : " messages") +
                            " matching " + (l.query.empty() ? std::string("the whole queue") : detail::web::html(l.query)) +
                            "? Messages that arrive after this count are left alone.</p><form method=\"post\" action=\"" + target +
                            "\"><input type=\"hidden\" name=\"csrf\" value=\"" + detail::web::html(s.csrf) +
                            "\"><input type=\"hidden\" name=\"up_to\" value=\"" + std::to_string(static_cast<std::uint64_t>(m.highest)) +
                            "\"><button>" + std::string(action) + " " + std::to_string(m.count) + "</button></form>");
        }
        const auto up_to = detail::web::parse_number(up_to_field->second);
        if (!up_to) return refuse(request, api, http_status::bad_request, "up_to is a message id, not '" + up_to_field->second + "'");
        // One at a time: a second would hold a second serving thread, and
        // two over overlapping filters would say confusing things.
        std::unique_lock one_at_a_time{bulk_action_, std::try_to_lock};
        if (!one_at_a_time.owns_lock())
            return refuse(request, api, http_status::conflict,
                          "another action on everything matching is running: try again when it has ended (the action log shows it then)");
        std::size_t done = 0, refused = 0, skipped = 0;
        const auto now = std::chrono::system_clock::now();
        std::vector<message_id> ids;
        for (message_id after{};;) {
            const auto page_rows = store_.list_queue(l.filter, now, after, chunk);
            ids.clear();
            for (const auto& q : page_rows) {
                if (!l.matches(q)) continue;
                if (static_cast<std::uint64_t>(q.id) <= *up_to) ids.push_back(q.id);
                else ++skipped;
            }
            const auto counted = apply_to(action, ids);
            done += counted.first;
            refused += counted.second;
            if (page_rows.size() < chunk) break;
            after = page_rows.back().id;
        }
        const std::string log_problem = logged(s, action, "matching " + (l.query.empty() ? std::string("the whole queue") : l.query) + ", up to " +
                                                           std::to_string(*up_to), done, refused, skipped);
        if (api)
            return respond(request, http_status::ok, "application/json",
                           "{\"operation\":" + detail::web::json_string(action) + ",\"done\":" + std::to_string(done) + ",\"refused\":" +
                               std::to_string(refused) + ",\"skipped\":" + std::to_string(skipped) + log_problem_json(log_problem) + "}\n");
        return page(request, s, "Done",
                    "<p>" + std::string(action) + ": " + std::to_string(done) + " done, " + std::to_string(refused) +
                        " refused (no longer queued), " + std::to_string(skipped) + " skipped (arrived after the count).</p>" +
                        log_problem_html(log_problem) + "<p><a href=\"" + detail::web::html(options_.base_path) + "/messages" +
                        (l.query.empty() ? "" : "?" + detail::web::html(l.query)) + "\">Back to the messages</a></p>");
    }
    static constexpr std::size_t chunk = 256; // per listing page, and per commit

    // --- Answers ------------------------------------------------------------

    web_response not_queued(const web_request& request, bool api, message_id id, std::error_code ec) {
        const std::string what = "message " + std::to_string(static_cast<std::uint64_t>(id));
        if (ec == errc::not_found) return refuse(request, api, http_status::not_found, what + ": no such message");
        if (ec == errc::not_in_queue) return refuse(request, api, http_status::conflict, what + ": not in the queue (sent or taken back)");
        return refuse(request, api, http_status::service_unavailable, what + ": " + ec.message());
    }

    web_response page(const web_request& request, const detail::web::session& s, std::string_view title, const std::string& body) {
        std::string text = detail::web::page(options_.base_path, title, body, &s.user, s.csrf, store_pages_);
        return respond(request, http_status::ok, "text/html; charset=utf-8", std::move(text));
    }
    web_response html(const web_request& request, http_status code, std::string_view title, const std::string& body) {
        return respond(request, code, "text/html; charset=utf-8", detail::web::page(options_.base_path, title, body));
    }
    web_response error(const web_request& request, http_status code, const std::string& why) {
        return html(request, code, std::string(boost::beast::http::obsolete_reason(code)), "<p class=\"error\">" + detail::web::html(why) + "</p>");
    }
    web_response json_error(const web_request& request, http_status code, const std::string& why) {
        return respond(request, code, "application/json", "{\"error\":" + detail::web::json_string(why) + "}\n");
    }
    web_response refuse(const web_request& request, bool api, http_status code, const std::string& why) {
        return api ? json_error(request, code, why) : error(request, code, why);
    }
    web_response not_allowed(const web_request& request, std::string_view allowed) {
        web_response r = error(request, http_status::method_not_allowed, "this page takes " + std::string(allowed));
        r.set(boost::beast::http::field::allow, allowed);
        return r;
    }
    web_response stylesheet(const web_request& request) {
        web_response r = respond(request, http_status::ok, "text/css; charset=utf-8", std::string(detail::web::stylesheet));
        r.set(boost::beast::http::field::cache_control, "max-age=3600");
        return r;
    }

    // Every answer: its type, and headers that keep a browser from running,
    // sniffing or framing anything the dashboard did not mean.
    web_response respond(const web_request& request, http_status code, std::string_view type, std::string body) {
        web_response r{code, request.version()};
        r.set(boost::beast::http::field::server, "spool");
        r.set(boost::beast::http::field::content_type, type);
        r.set("Content-Security-Policy",
              "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
        r.set("X-Content-Type-Options", "nosniff");
        r.set(boost::beast::http::field::x_frame_options, "DENY");
        r.set("Referrer-Policy", "same-origin"); // not no-referrer: Chromium then sends "Origin: null" on its own forms
        r.set(boost::beast::http::field::cache_control, "no-store");
        r.keep_alive(request.keep_alive());
        r.body() = std::move(body);
        r.prepare_payload();
        return r;
    }

    Store& store_;
    web_credentials users_;
    web_options options_;
    detail::web::session_book sessions_;
    std::vector<std::pair<std::string_view, std::string_view>> store_pages_; // the pages the store's capabilities add
    detail::web::request_rates rates_;
    web_live live_;
    std::mutex bulk_action_;
};

} // namespace spool
