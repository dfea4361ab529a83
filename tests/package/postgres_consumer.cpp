#include <spool/spool.hpp>
#include <spool/postgres.hpp>

#include <cstdio>

// Builds and links against spool::postgres. No server runs here: opening a
// store on a socket directory with no server in it gives store_unavailable.
int main() {
    auto store = spool::postgres_store::open("host=/nonexistent-spool-consumer dbname=spool connect_timeout=2");
    if (store || store.error() != spool::errc::store_unavailable) return 1;
    std::printf("postgres consumer: %s\n", store.error().message().c_str());
    return 0;
}
