#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include <cstdio>

// Links libcrypt through spool::web: a password is hashed and checked, and a
// dashboard sends a visitor without a session to the sign-in.
int main(int argc, char** argv) {
    if (argc < 2) return 2;
    spool::sqlite_store store(argv[1]);
    spool::web_credentials users;
    users.set_user("olga", "a password", spool::web_role::operator_);
    if (users.check("olga", "a password") != spool::web_role::operator_ || users.check("olga", "another")) return 1;
    spool::web_dashboard<spool::sqlite_store> dashboard(store, users);
    const auto answer = dashboard.handle({boost::beast::http::verb::get, "/", 11}, "127.0.0.1");
    std::printf("web consumer: %u\n", answer.result_int());
    return answer.result_int() == 303 ? 0 : 1;
}
