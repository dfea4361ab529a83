// The process the crash test kills. It submits messages to a spooler running
// on the SQLite store and drains the queue; its transport writes each
// transmission to a log file before reporting the recipient sent, as a real
// transport hands a message to its messaging system before it can say so.
// With `async`, the transport is asynchronous: it keeps up to 32 hand-offs in
// flight and completes them from a thread of its own about a millisecond
// later, so that kills land while many hand-offs are in flight.
//   spool_crash_child DB DELIVERY_LOG ACCEPTED_LOG FIRST COUNT [async]

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

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

// Completes each hand-off a millisecond after it starts, from its own thread;
// the process is killed, never stopped, so the thread is never joined.
struct async_log_transport {
    using spool_concept = spool::transport_tag;
    static constexpr std::size_t max_in_flight = 32;
    struct pending {
        spool::transmission<spool::message>* tx;
        spool::transmit_handler done;
        std::chrono::steady_clock::time_point due;
    };
    struct state {
        int fd = -1;
        std::mutex mutex;
        std::condition_variable ready;
        std::deque<pending> queue;
    };
    std::shared_ptr<state> s;

    explicit async_log_transport(int fd) : s(std::make_shared<state>()) {
        s->fd = fd;
        std::thread([s = s] {
            for (;;) {
                std::unique_lock l{s->mutex};
                s->ready.wait(l, [&] { return !s->queue.empty(); });
                pending p = std::move(s->queue.front());
                s->queue.pop_front();
                l.unlock();
                std::this_thread::sleep_until(p.due);
                for (const auto& r : p.tx->recipients()) {
                    append(s->fd, p.tx->message().payload.subject + "/" + r.address + "\n");
                    p.tx->sent(r);
                }
                p.done(spool::transmit_result::done());
            }
        }).detach();
    }
    spool::address_types address_types() const { return spool::address_types::any(); }
    std::string destination(const spool::recipient& r) const { return r.address.substr(r.address.find('@') + 1); }
    void async_transmit(spool::transmission<spool::message>& tx, spool::transmit_handler done) {
        std::lock_guard g{s->mutex};
        s->queue.push_back({&tx, std::move(done), std::chrono::steady_clock::now() + std::chrono::milliseconds{1}});
        s->ready.notify_one();
    }
};

template <class Transport>
int run(spool::sqlite_store& store, Transport transport, int accepted, int first, int count) {
    spool::spooler sp{std::ref(store), std::move(transport)};
    sp.start(); // sending goes on while the messages below are submitted
    auto client = sp.client();
    for (int i = first; i < first + count; ++i) {
        spool::message m;
        m.payload.subject = "m" + std::to_string(i);
        m.recipients = {{"A", "a@x", "SMTP"}, {"B", "b@x", "SMTP"}, {"C", "c@y", "SMTP"}};
        if (!client.send(m)) return 4;
        append(accepted, std::to_string(i) + "\n"); // only once submit returned: the message is accepted
    }
    while (!store.outgoing_queue().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    sp.stop();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 6 && argc != 7) return 2;
    const int deliveries = ::open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0600);
    const int accepted = ::open(argv[3], O_WRONLY | O_APPEND | O_CREAT, 0600);
    const int first = std::atoi(argv[4]), count = std::atoi(argv[5]);
    auto store = spool::sqlite_store::open(argv[1]);
    if (!store || deliveries < 0 || accepted < 0) return 2;
    if (argc == 7 && std::string(argv[6]) == "async") return run(*store, async_log_transport{deliveries}, accepted, first, count);
    return run(*store, log_transport{deliveries}, accepted, first, count);
}
