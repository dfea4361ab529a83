// Fuzz target: requests to the web dashboard, and its query and form parser.
// The first octet picks the method, whether the request carries a signed-in
// operator's session, and whether it carries that session's CSRF token; the
// rest is the target and the body, split at a NUL. Whatever comes:
//   - handle() answers (never throws) with a status of its own set, and every
//     answer has the Content-Security-Policy and nosniff headers;
//   - no answer has a <script or <img element: every value is escaped;
//   - without a session, nothing but the sign-in and the stylesheet is 200;
//   - a POST without the token changes nothing (the queue's counts stay);
//   - a field percent-encoded reads back as it was.

#include "input_fields.hpp"

#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace http = boost::beast::http;
using spool_fuzz::require;

// One spool and one dashboard for the whole run, with a signed-in operator.
struct rig {
    std::string path = "/tmp/spool-fuzz-web-" + std::to_string(::getpid()) + ".db";
    std::unique_ptr<spool::sqlite_store> store;
    std::unique_ptr<spool::web_dashboard<spool::sqlite_store>> web;
    std::string cookie, csrf;

    rig() {
        ::unlink(path.c_str());
        store = std::make_unique<spool::sqlite_store>(path);
        for (int i = 0; i < 3; ++i) {
            spool::message m;
            m.recipients = {{"", "bob" + std::to_string(i) + "@b.test", "SMTP"}};
            m.payload.subject = "<script>x</script><img src=x>";
            m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
            (void)store->create_queued(spool::folders::outbox, m);
        }
        spool::web_credentials users;
        users.set_user("olga", "pw", spool::web_role::operator_);
        spool::web_options options;
        options.requests_per_second = 0; // every input comes from one address: a rate would answer all but the first hundred with 429
        web = std::make_unique<spool::web_dashboard<spool::sqlite_store>>(*store, users, options);
        spool::web_request in{http::verb::post, "/login", 11};
        in.body() = "user=olga&password=pw";
        in.prepare_payload();
        const auto r = web->handle(in, "127.0.0.1");
        const std::string set(r[http::field::set_cookie]);
        cookie = set.substr(0, set.find(';'));
        spool::web_request page{http::verb::get, "/", 11};
        page.set(http::field::cookie, cookie);
        const std::string body = web->handle(page, "127.0.0.1").body();
        const auto at = body.find("name=\"csrf\" value=\"");
        require(at != std::string::npos);
        csrf = body.substr(at + 19, 64);
    }
    ~rig() { ::unlink(path.c_str()); }
};

bool known(unsigned status) {
    for (unsigned s : {200u, 303u, 400u, 401u, 403u, 404u, 405u, 409u, 413u, 429u, 503u})
        if (s == status) return true;
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rig r;
    const unsigned flags = size ? data[0] : 0;
    spool_fuzz::input_fields in(std::string_view(reinterpret_cast<const char*>(data), size).substr(size ? 1 : 0));
    std::string target = in.next(), body = in.next();

    // The parser: whatever a field holds, encoded, reads back as it was.
    const auto round = spool::detail::web::form_fields("f=" + spool::detail::web::percent_encoded(target));
    require(round && round->size() == 1 && round->begin()->second == target);

    if (target.empty() || target.front() != '/') target.insert(target.begin(), '/');
    if (target.starts_with("/logout")) target = "/"; // it would end the session every later input uses
    for (char& c : target) // a request line has no spaces or controls: Beast would not have parsed one
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) c = '_';
    const bool post = flags & 1, signed_in = flags & 2, with_token = flags & 4;
    if (post && signed_in && with_token && target.find("/login") == std::string::npos) body += "&csrf=" + r.csrf;
    spool::web_request request{post ? http::verb::post : http::verb::get, target, 11};
    request.set(http::field::host, "dashboard.test");
    if (signed_in) request.set(http::field::cookie, r.cookie);
    request.body() = body;
    request.prepare_payload();

    const auto before = r.store->count_queue(std::chrono::system_clock::now());
    const auto answer = r.web->handle(request, "127.0.0.1");
    require(known(answer.result_int()));
    require(std::string_view(answer["Content-Security-Policy"]).starts_with("default-src 'none'"));
    require(answer["X-Content-Type-Options"] == "nosniff");
    require(answer.body().find("<script") == std::string::npos && answer.body().find("<img") == std::string::npos);
    const std::string_view path = std::string_view(target).substr(0, target.find('?'));
    if (!signed_in && answer.result_int() == 200) require(path == "/login" || path == "/static/style.css");
    if (post && !(signed_in && with_token)) require(r.store->count_queue(std::chrono::system_clock::now()) == before);
    return 0;
}
