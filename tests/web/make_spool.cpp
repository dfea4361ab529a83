// Makes the spool the browser tests look at (tests/web/browser.py): queued
// messages to two domains, one whose subject is a script, and two users,
// an operator and a reader.
//   make_spool <database> <users file>

#include <spool/sqlite.hpp>
#include <spool/web/credentials.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_spool <database> <users file>\n");
        return 2;
    }
    spool::sqlite_store store(argv[1]);
    auto queue = [&](const std::string& to, const std::string& subject) {
        spool::message m;
        m.recipients = {{"", to, "SMTP"}};
        m.payload.subject = subject;
        m.sender = {"Ann", "ann@x.test", "SMTP"};
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        m.client_submit_time = std::chrono::system_clock::now();
        return store.create_queued(spool::folders::outbox, m).value();
    };
    for (int i = 1; i <= 3; ++i) queue("user" + std::to_string(i) + "@a.test", "report " + std::to_string(i));
    queue("bob@b.test", "invoice");
    queue("carl@b.test", "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">");
    spool::web_credentials users;
    users.set_user("olga", "operator password", spool::web_role::operator_);
    users.set_user("rita", "reader password", spool::web_role::reader);
    users.save(argv[2]);
    return 0;
}
