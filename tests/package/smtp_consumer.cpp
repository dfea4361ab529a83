#include <spool/spool.hpp>
#include <spool/smtp.hpp>

#include <cstdio>

// Builds and links against spool::smtp; it sends nothing (no server here).
int main() {
    spool::smtp_options options;
    options.relay = spool::smtp_relay{"127.0.0.1", 25};
    spool::spooler sp{spool::memory_store{}, spool::smtp_transport{options}};
    std::printf("smtp consumer: %zu destinations\n", sp.destinations().size());
    return 0;
}
