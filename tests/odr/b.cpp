#include <spool/spool.hpp>

std::size_t finished_in_b() {
    spool::spooler sp{spool::memory_store{}, spool::memory_transport{}};
    spool::message m;
    m.recipients.push_back({"B", "b@x", "SMTP"});
    sp.client().send(m);
    return sp.drain().finished;
}
