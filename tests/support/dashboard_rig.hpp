#pragma once

// The dashboard's tests' rig: a real SQLite spool with messages, a
// dashboard over it, and a browser's cookie jar, asked through the
// dashboard's public handle().

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include <string>

namespace spool_test {

namespace http = boost::beast::http;

// A spool with messages, a dashboard over it, and a browser's cookie jar.
template <class Store = spool::sqlite_store>
struct basic_dashboard_rig {
    temp_dir dir;
    Store store{dir.file("spool.db")};
    spool::web_dashboard<Store> web;
    std::string cookie; // the session, once signed in
    std::string csrf;

    explicit basic_dashboard_rig(spool::web_options options = {}) : web(store, users(), std::move(options)) {}

    static spool::web_credentials users() {
        spool::web_credentials c;
        c.set_user("olga", "operator password", spool::web_role::operator_);
        c.set_user("rita", "reader password", spool::web_role::reader);
        return c;
    }

    spool::message_id queued(const std::string& subject, const std::string& to = "bob@b.test") { return queued(from_ann({smtp(to)}, subject)); }
    spool::message_id queued(spool::message m) {
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        return store.create_queued(spool::folders::outbox, m).value();
    }

    spool::web_response ask(http::verb method, const std::string& target, const std::string& body = {},
                            const std::string& address = "127.0.0.1") {
        spool::web_request r{method, target, 11};
        r.set(http::field::host, "dashboard.test");
        if (!cookie.empty()) r.set(http::field::cookie, "spool_session=" + cookie);
        if (method == http::verb::post) r.set(http::field::content_type, "application/x-www-form-urlencoded");
        r.body() = body;
        r.prepare_payload();
        return web.handle(r, address);
    }
    spool::web_response get(const std::string& target) { return ask(http::verb::get, target); }
    spool::web_response post(const std::string& target, const std::string& body) { return ask(http::verb::post, target, body); }

    // Signs in; the session's CSRF token is read from the page's sign-out form.
    void sign_in(const std::string& user, const std::string& password) {
        std::string encoded = password; // the test passwords need no escape but for their spaces
        for (char& c : encoded)
            if (c == ' ') c = '+';
        const auto r = ask(http::verb::post, "/login", "user=" + user + "&password=" + encoded);
        REQUIRE(r.result() == http::status::see_other);
        const std::string set = std::string(r[http::field::set_cookie]);
        cookie = set.substr(set.find('=') + 1, set.find(';') - set.find('=') - 1);
        const std::string page = get("/").body();
        const auto at = page.find("name=\"csrf\" value=\"");
        REQUIRE(at != std::string::npos);
        csrf = page.substr(at + 19, 64);
    }
};

using dashboard_rig = basic_dashboard_rig<>;

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
inline std::string text(spool::message_id id) { return std::to_string(static_cast<std::uint64_t>(id)); }

} // namespace spool_test
