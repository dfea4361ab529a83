// With b.cpp: two translation units that include every header of one part
// link into one program (no non-inline definitions in headers).
#include <spool/spool.hpp>
#include SPOOL_ODR_HEADERS // every header of one part (tests/CMakeLists.txt)

std::size_t finished_in_b();

int main() {
    spool::spooler sp{spool::memory_store{}, spool::memory_transport{}};
    spool::message m;
    m.recipients.push_back({"A", "a@x", "SMTP"});
    sp.client().send(m);
    const bool here = sp.drain().finished == 1;
    const bool there = finished_in_b() == 1;
    const bool same_category = &spool::spool_category() == &std::error_code(spool::errc::not_found).category();
    return here && there && same_category ? 0 : 1;
}
