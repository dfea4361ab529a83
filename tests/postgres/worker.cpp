// One spooler process on a shared PostgreSQL queue, for
// tests/postgres_processes_test.cpp:
//   spool_postgres_worker <conninfo> <lease ms> <transmissions> <ready> [<hand-off ms>]
// Its transport completes each hand-off <hand-off ms> (default 50) after it
// began (so that a kill finds hand-offs in flight), appending "<message id> <pid>" to
// <transmissions> for every recipient it sends. It writes its pid to <ready>
// once running, and keeps in <transmissions>.<pid> how many of its writes the
// store refused with errc::lease_lost (written at each refusal, as the
// process may be killed later). Its connections and its leases carry the name
// "worker-<pid>" (application_name and lease_owner), so that the database can
// tell who wrote a row. On SIGTERM it stops.

#include "support/async_transport.hpp"

#include <spool/spool.hpp>
#include <spool/postgres.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

namespace {

// The PostgreSQL store, counting the writes its fencing refused.
class counting_store : public spool::postgres_store {
public:
    counting_store(const std::string& conninfo, spool::postgres_options options, std::string counts)
        : spool::postgres_store(conninfo, std::move(options)), counts_(std::make_shared<std::string>(std::move(counts))) {}
    std::error_code save(spool::message_id id, const spool::message& m) { return counted(spool::postgres_store::save(id, m)); }
    std::error_code finish(spool::message_id id, const spool::message& m) { return counted(spool::postgres_store::finish(id, m)); }

private:
    std::error_code counted(std::error_code ec) {
        if (ec == spool::errc::lease_lost) std::ofstream(*counts_) << ++*lost_ << '\n'; // one writer: the spooler's pass
        return ec;
    }
    std::shared_ptr<std::atomic<std::size_t>> lost_ = std::make_shared<std::atomic<std::size_t>>(0);
    std::shared_ptr<std::string> counts_;
};

} // namespace

int main(int argc, char** argv) {
    if (argc != 5 && argc != 6) return 2;
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // a test that fails leaves no spooler behind
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, nullptr); // before any thread starts: every thread inherits it

    spool::postgres_options options;
    options.lease = std::chrono::milliseconds{std::stol(argv[2])};
    options.poll_interval = std::chrono::milliseconds{100};
    options.claim_batch = 16; // small claims spread the queue over the processes
    options.owner = "worker-" + std::to_string(::getpid());
    counting_store store(std::string(argv[1]) + " application_name=" + options.owner, options,
                         std::string(argv[3]) + "." + std::to_string(::getpid()));
    const std::chrono::milliseconds handoff{argc == 6 ? std::stol(argv[5]) : 50};

    const int log = ::open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log < 0) return 3;
    spool_test::async_transport transport(handoff, 16);
    transport.on_transmit([log](spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            // One write() per line on an O_APPEND file: lines of several processes never interleave.
            const std::string line = std::to_string(static_cast<std::uint64_t>(tx.message().id)) + " " + std::to_string(::getpid()) + "\n";
            if (::write(log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return spool::transmit_result::busy("log");
            tx.sent(r);
        }
        return spool::transmit_result::done();
    });

    spool::spooler sp{store, transport};
    sp.start();
    std::ofstream(argv[4]) << ::getpid() << '\n';
    int signal = 0;
    sigwait(&term, &signal);
    sp.stop();
    return 0;
}
