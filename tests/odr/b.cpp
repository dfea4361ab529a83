#include <spool/spool.hpp>
#include SPOOL_ODR_HEADERS // every header of one part (tests/CMakeLists.txt)

std::size_t finished_in_b() {
    spool::spooler sp{spool::memory_store{}, spool::memory_transport{}};
    spool::message m;
    m.recipients.push_back({"B", "b@x", "SMTP"});
    sp.client().send(m);
    return sp.drain().finished;
}
