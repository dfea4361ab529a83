// Another process on the same SQLite spool, for tests/sqlite_processes_test.cpp.
//   peer run <db> <deliveries> <ready>  a spooler that appends each address it
//                                       sends to <deliveries>; writes <ready> once
//                                       running, then works until it is killed
//   peer shared <db> <deliveries> <ready>
//                                       the same, with several spoolers sharing
//                                       the queue (sqlite_options::shared_queue)
//   peer try <db> <out>                 runs a pass; if it is refused, writes the
//                                       error's text to <out> and exits 3
// Its transport sends everything, except that the first attempt for an
// address at retry.example is deferred for an hour (a destination waiting on
// a retry, for the spoolctl tests).

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>

namespace {
struct appending_transport {
    using spool_concept = spool::transport_tag;
    std::string path;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        std::ofstream out(path, std::ios::app);
        for (const auto& r : tx.recipients()) {
            if (r.address.ends_with("@retry.example") && r.is_pending()) {
                tx.deferred(r, "421 4.4.2 retry.example: try again later", "4.4.2", std::chrono::hours{1});
                continue;
            }
            out << r.address << '\n' << std::flush;
            tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};
} // namespace

int main(int argc, char** argv) {
    if (argc != 5 && argc != 4) return 2;
    const std::string mode = argv[1];
    spool::sqlite_options options;
    options.shared_queue = mode == "shared";
    spool::sqlite_store store(argv[2], options);
    if ((mode == "run" || mode == "shared") && argc == 5) {
        spool::spooler sp{store, appending_transport{argv[3]}};
        sp.start();
        std::ofstream(argv[4]) << ::getpid() << '\n';
        for (;;) ::pause();
    }
    if (mode == "try" && argc == 4) {
        spool::spooler sp{store, appending_transport{"/dev/null"}};
        try {
            sp.run_once();
        } catch (const std::system_error& e) {
            std::ofstream(argv[3]) << e.what();
            return e.code() == spool::errc::spool_in_use ? 3 : 4;
        }
        return 0;
    }
    return 2;
}
