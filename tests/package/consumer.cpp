#include <spool/spool.hpp>

#include <cstdio>

int main() {
    spool::spooler sp{spool::memory_store{}, spool::memory_transport{}};
    spool::message m;
    m.recipients.push_back({"A", "a@example.org", "SMTP"});
    if (!sp.client().send(m)) return 1;
    const auto report = sp.drain();
    std::printf("spool %d.%d.%d consumer: %zu finished\n", spool::version_major, spool::version_minor,
                spool::version_patch, report.finished);
    return report.finished == 1 ? 0 : 1;
}
