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
#include <spool/error.hpp>
#include <spool/action_log.hpp>
#include <spool/message.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/web/credentials.hpp>
#include <spool/web/detail/listing.hpp>
#include <spool/web/detail/message_view.hpp>
#include <spool/web/detail/pages.hpp>
#include <spool/web/detail/sessions.hpp>
#include <spool/web/detail/text.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <chrono>
#include <cstdint>
#include <optional>
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
};

using web_request = boost::beast::http::request<boost::beast::http::string_body>;
using web_response = boost::beast::http::response<boost::beast::http::string_body>;

template <AdministeredStore Store>
class web_dashboard {
public:
    using message_type = typename Store::message_type;

    web_dashboard(Store& store, web_credentials users, web_options options = {})
        : store_(store), users_(std::move(users)), options_(std::move(options)), sessions_(options_.session_lifetime) {}

    /// The answer to `request`, from a client at `client_address` (for the
    /// sign-in throttle). Never throws for a request, however malformed:
    /// a store that throws gives 503.
    web_response handle(const web_request& request, const std::string& client_address) {
        try {
            return route(request, client_address);
        } catch (const std::exception& e) {
            return error(request, boost::beast::http::status::service_unavailable, std::string("the store could not answer: ") + e.what());
        }
    }

private:
    using http_status = boost::beast::http::status;
    using verb = boost::beast::http::verb;
    using fields = detail::web::fields;
    using listing = detail::web::listing;

    static constexpr std::string_view cookie_name = "spool_session";

    // --- Routing ------------------------------------------------------------

    web_response route(const web_request& request, const std::string& client_address) {
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
            if (request.method() == verb::post) return sign_in(request, client_address);
            return not_allowed(request, "GET, POST");
        }

        if (api)
            if (const auto bearer = bearer_token(request)) {
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
            if (!same_origin(request)) return refuse(request, api, http_status::forbidden, "a request from another site");
            if (!carries_csrf(request, *session))
                return refuse(request, api, http_status::forbidden, "the form is stale or forged (no valid CSRF token): reload the page");
        } else if (request.method() != verb::get && request.method() != verb::head) {
            return not_allowed(request, "GET, POST");
        }
        if (path == "/logout") {
            if (request.method() != verb::post) return not_allowed(request, "POST");
            sessions_.close(session_id(request));
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
        if (rest == "/messages/count") {
            if (request.method() != verb::get) return not_allowed(request, "GET");
            return count_matching(request, query, api);
        }
        if (rest.substr(0, 14) == "/messages/all/") {
            if (request.method() != verb::post) return not_allowed(request, "POST");
            return act_on_all(request, s, rest.substr(14), query, api);
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

    static std::optional<std::string> bearer_token(const web_request& request) {
        const auto h = request.find(boost::beast::http::field::authorization);
        if (h == request.end()) return std::nullopt;
        const std::string_view v = h->value();
        if (v.substr(0, 7) != "Bearer ") return std::string(); // another scheme: no valid token
        return std::string(v.substr(7));
    }

    // --- Sign-in ------------------------------------------------------------

    web_response sign_in(const web_request& request, const std::string& client_address) {
        const std::string_view base = options_.base_path;
        if (!same_origin(request)) return error(request, http_status::forbidden, "a sign-in from another site");
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

    std::string session_id(const web_request& request) const {
        const auto header = request.find(boost::beast::http::field::cookie);
        if (header == request.end()) return {};
        std::string_view rest = header->value();
        while (!rest.empty()) {
            const std::size_t semi = rest.find(';');
            std::string_view c = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
            if (c.substr(0, cookie_name.size() + 1) == std::string(cookie_name) + "=") return std::string(c.substr(cookie_name.size() + 1));
        }
        return {};
    }
    std::optional<detail::web::session> session_of(const web_request& request) const {
        const std::string id = session_id(request);
        if (id.empty()) return std::nullopt;
        return sessions_.find(id);
    }

    // A browser names the page's origin on a POST; one from elsewhere is refused.
    static bool same_origin(const web_request& request) {
        const auto origin = request.find(boost::beast::http::field::origin);
        if (origin == request.end()) return true; // not a browser's cross-site POST (browsers send Origin on those)
        const auto host = request.find(boost::beast::http::field::host);
        if (host == request.end()) return false;
        std::string_view o = origin->value();
        const std::size_t scheme = o.find("://");
        return scheme != std::string_view::npos && o.substr(scheme + 3) == host->value();
    }
    static bool carries_csrf(const web_request& request, const detail::web::session& s) {
        std::string given;
        if (const auto h = request.find("X-CSRF-Token"); h != request.end()) given = std::string(h->value());
        else if (const auto form = detail::web::form_fields(request.body()))
            if (const auto it = form->find("csrf"); it != form->end()) given = it->second;
        return detail::web::same_bytes(given, s.csrf);
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

    web_response messages(const web_request& request, const detail::web::session& s, const fields& query, bool api) {
        auto parsed = detail::web::listing_of(query);
        if (auto* why = std::get_if<std::string>(&parsed)) return refuse(request, api, http_status::bad_request, *why);
        const listing& l = std::get<listing>(parsed);
        const auto page_rows = store_.list_queue(l.filter, std::chrono::system_clock::now(), l.after, options_.page_size);
        const bool more = page_rows.size() == options_.page_size;
        if (api) {
            std::string body = "{\"messages\":[";
            for (std::size_t i = 0; i < page_rows.size(); ++i) body += (i ? "," : "") + detail::web::message_json(page_rows[i]);
            body += "],\"next_after\":";
            body += more ? std::to_string(static_cast<std::uint64_t>(page_rows.back().id)) : std::string("null");
            return respond(request, http_status::ok, "application/json", body + "}\n");
        }
        const std::string base = detail::web::html(options_.base_path);
        std::string body = "<form method=\"get\" action=\"" + base + "/messages\">State <select name=\"state\"><option value=\"\">any</option>";
        for (auto x : {queue_state::due, queue_state::deferred, queue_state::held, queue_state::in_hand, queue_state::waiting}) {
            const std::string name(to_string(x));
            body += "<option" + std::string(l.filter.state == x ? " selected" : "") + ">" + name + "</option>";
        }
        body += "</select> Domain <input name=\"domain\" value=\"" + detail::web::html(l.filter.domain) +
                "\"> Older than <input name=\"older_than\" size=\"6\" value=\"" +
                (l.filter.older_than ? std::to_string(l.filter.older_than->count()) : std::string()) +
                "\"> s <button>Filter</button></form><table><tr><th>Id</th><th>Submitted</th><th>State</th><th>From</th><th>Subject</th><th>Recipients</th></tr>";
        for (const auto& q : page_rows) {
            body += "<tr><td><a href=\"" + base + "/messages/" + std::to_string(static_cast<std::uint64_t>(q.id)) + "\">" +
                    std::to_string(static_cast<std::uint64_t>(q.id)) + "</a></td><td>" + detail::web::iso(q.submit_time) + "</td><td>" +
                    std::string(to_string(q.state)) + "</td>";
            if (q.message) {
                body += "<td>" + detail::web::html(q.message->sender.address) + "</td><td>" + detail::web::html(detail::web::subject_of(*q.message)) +
                        "</td><td>" + std::to_string(q.message->recipients.size()) + "</td>";
            } else {
                body += "<td colspan=\"3\" class=\"error\">cannot be read here: " + detail::web::html(q.message.error().message()) + "</td>";
            }
            body += "</tr>";
        }
        body += "</table><p>" + std::to_string(page_rows.size()) + (page_rows.size() == 1 ? " message" : " messages");
        if (s.role == web_role::operator_) {
            // Everything matching, not only this page: each button asks for a confirmation with the count.
            const std::string filtered = l.query.empty() ? "" : "?" + detail::web::html(l.query);
            body += "</p><p>Everything matching this filter: ";
            for (std::string_view a : actions)
                body += "<form class=\"inline\" method=\"post\" action=\"" + base + "/messages/all/" + std::string(a) + filtered +
                        "\"><input type=\"hidden\" name=\"csrf\" value=\"" + detail::web::html(s.csrf) + "\"><button>" + std::string(a) +
                        " all</button></form> ";
        }
        if (more)
            body += " · <a href=\"" + base + "/messages?" + detail::web::html(l.query) + (l.query.empty() ? "" : "&amp;") +
                    "after=" + std::to_string(static_cast<std::uint64_t>(page_rows.back().id)) + "\">next page</a>";
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
        } else {
            body += "<tr><th>Message</th><td class=\"error\">cannot be read here: " + html(q->message.error().message()) + "</td></tr>";
        }
        body += "</table>";
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
        if (!*done) return not_queued(request, api, id, done->error());
        const std::string outcome(to_string(**done));
        if (api)
            return respond(request, http_status::ok, "application/json",
                           "{\"id\":" + std::to_string(static_cast<std::uint64_t>(id)) + ",\"operation\":" + detail::web::json_string(action) +
                               ",\"result\":" + detail::web::json_string(outcome) + "}\n");
        const std::string link = detail::web::html(options_.base_path) + "/messages/" + std::to_string(static_cast<std::uint64_t>(id));
        return page(request, s, "Done",
                    "<p>" + std::string(action) + " of <a href=\"" + link + "\">message " + std::to_string(static_cast<std::uint64_t>(id)) + "</a>: " +
                        outcome + (**done == admin_outcome::requested ? " (a hand-off holds it: the spooler applies it when the hand-off ends)" : "") +
                        ".</p>");
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
    matching count_of(const queue_filter& filter) {
        matching m;
        const auto now = std::chrono::system_clock::now();
        for (message_id after{};;) {
            const auto page_rows = store_.list_queue(filter, now, after, chunk);
            m.count += page_rows.size();
            if (!page_rows.empty()) m.highest = page_rows.back().id;
            if (page_rows.size() < chunk) return m;
            after = page_rows.back().id;
        }
    }

    web_response count_matching(const web_request& request, const fields& query, bool api) {
        auto parsed = detail::web::listing_of(query);
        if (auto* why = std::get_if<std::string>(&parsed)) return refuse(request, api, http_status::bad_request, *why);
        const matching m = count_of(std::get<listing>(parsed).filter);
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
            const matching m = count_of(l.filter);
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
        std::size_t done = 0, refused = 0, skipped = 0;
        const auto now = std::chrono::system_clock::now();
        std::vector<message_id> ids;
        for (message_id after{};;) {
            const auto page_rows = store_.list_queue(l.filter, now, after, chunk);
            ids.clear();
            for (const auto& q : page_rows) {
                if (static_cast<std::uint64_t>(q.id) <= *up_to) ids.push_back(q.id);
                else ++skipped;
            }
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
            if (page_rows.size() < chunk) break;
            after = page_rows.back().id;
        }
        if (api)
            return respond(request, http_status::ok, "application/json",
                           "{\"operation\":" + detail::web::json_string(action) + ",\"done\":" + std::to_string(done) + ",\"refused\":" +
                               std::to_string(refused) + ",\"skipped\":" + std::to_string(skipped) + "}\n");
        return page(request, s, "Done",
                    "<p>" + std::string(action) + ": " + std::to_string(done) + " done, " + std::to_string(refused) +
                        " refused (no longer queued), " + std::to_string(skipped) + " skipped (arrived after the count).</p><p><a href=\"" +
                        detail::web::html(options_.base_path) + "/messages" + (l.query.empty() ? "" : "?" + detail::web::html(l.query)) +
                        "\">Back to the messages</a></p>");
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
        return respond(request, http_status::ok, "text/html; charset=utf-8", detail::web::page(options_.base_path, title, body, &s.user, s.csrf));
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
};

} // namespace spool
