#include <spool/ops.hpp>
#include <spool/spool.hpp>

#include <cstdio>
#include <string>

int main() {
    spool::metrics metrics; // copies share their numbers
    spool::spooler sp{spool::memory_store{}, spool::memory_transport{}, metrics};
    spool::message m;
    m.recipients.push_back({"A", "a@example.org", "SMTP"});
    if (!sp.client().send(m)) return 1;
    sp.drain();
    const std::string page = metrics.render(spool::exposition::prometheus);
    std::printf("ops consumer: %zu bytes of metrics\n", page.size());
    return page.find("spool_messages_submitted_total 1") != std::string::npos ? 0 : 1;
}
