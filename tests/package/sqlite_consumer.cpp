#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    auto store = spool::sqlite_store::open(argv[1]);
    if (!store) return 1;
    spool::spooler sp{*store, spool::memory_transport{}};
    spool::message m;
    m.recipients.push_back({"A", "a@example.org", "SMTP"});
    if (!sp.client().send(m)) return 1;
    const auto report = sp.drain();
    std::printf("sqlite consumer: %zu finished\n", report.finished);
    return report.finished >= 1 ? 0 : 1;
}
