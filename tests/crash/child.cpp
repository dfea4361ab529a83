// The process the crash test kills. It submits messages to a spooler running
// on the SQLite store and drains the queue; its transport writes each
// transmission to a log file before reporting the recipient sent, as a real
// transport hands a message to its messaging system before it can say so.
//   spool_crash_child DB DELIVERY_LOG ACCEPTED_LOG FIRST COUNT

#include <spool/spool.hpp>
#include <spool/stores/sqlite.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

void append(int fd, const std::string& line) {
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(3);
}

struct log_transport {
    using spool_concept = spool::transport_tag;
    int fd;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            append(fd, tx.message().payload.subject + "/" + r.address + "\n");
            tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};

} // namespace

int main(int argc, char** argv) {
    if (argc != 6) return 2;
    const int deliveries = ::open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0600);
    const int accepted = ::open(argv[3], O_WRONLY | O_APPEND | O_CREAT, 0600);
    const int first = std::atoi(argv[4]), count = std::atoi(argv[5]);
    auto store = spool::sqlite_store::open(argv[1]);
    if (!store || deliveries < 0 || accepted < 0) return 2;

    spool::spooler sp{std::ref(*store), log_transport{deliveries}};
    sp.start(); // sending goes on while the messages below are submitted
    auto client = sp.client();
    for (int i = first; i < first + count; ++i) {
        spool::message m;
        m.payload.subject = "m" + std::to_string(i);
        m.recipients = {{"A", "a@x", "SMTP"}, {"B", "b@x", "SMTP"}};
        if (!client.send(m)) return 4;
        append(accepted, std::to_string(i) + "\n"); // only once submit returned: the message is accepted
    }
    while (!store->outgoing_queue().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    sp.stop();
    return 0;
}
