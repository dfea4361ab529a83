// The spooler's durable rate with and without a dashboard polling it: the
// spooler submits and sends 1 KiB messages end to end on a SQLite spool (64
// per submit batch and per group commit, as spool_sqlite_end_to_end), while
// a dashboard served on loopback by spool::web_server, on its own store
// object over the same file (as spoolctl serve runs beside a spooler), is
// asked for its overview and its messages page every second, or not at all.
// The spool also holds 10,000 held messages, so the pages have rows to show.
// Runs alternate, without then with, in pairs, so that a drift of the
// machine weighs on both; the median of each and the spread are printed.
//   build/<preset>/benchmarks/spool_web_durable_rate [pairs] [seconds per run]

#include "dashboard_client.hpp"
#include "durable_workload.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

namespace {

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a;
    in >> a;
    return a;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

} // namespace

int main(int argc, char** argv) {
    const int pairs = argc > 1 ? std::atoi(argv[1]) : 5;
    const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
    const auto path = std::filesystem::temp_directory_path() / ("spool-web-durable-" + std::to_string(::getpid()) + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);

    spool::sqlite_store store(path.string());
    {
        auto m = spool_bench::one_kib_message();
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        const auto now = std::chrono::system_clock::now();
        (void)store.batch([&] {
            for (int i = 0; i < 10000; ++i) (void)store.hold(store.create_queued(spool::folders::outbox, m).value(), now);
        });
    }
    spool::spooler sp{store, spool_bench::discard_transport{}};
    sp.group_commits(64);
    auto client = sp.client();
    const auto m = spool_bench::one_kib_message();

    // The dashboard, on a store object of its own over the same file.
    spool::sqlite_store dashboard_store(path.string());
    spool::web_credentials users;
    users.set_user("olga", "pw", spool::web_role::operator_);
    spool::web_dashboard<spool::sqlite_store> dashboard(dashboard_store, users);
    boost::asio::io_context io;
    spool::web_server server(io, {boost::asio::ip::make_address("127.0.0.1"), 0},
                             [&](const spool::web_request& r, const std::string& a) { return dashboard.handle(r, a); });
    std::vector<std::thread> io_threads;
    for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io.run(); });

    // The poller: while `polling`, the overview and the messages page, every second.
    std::mutex mutex;
    std::condition_variable changed;
    bool polling = false, done = false;
    std::atomic<int> polls{0};
    std::atomic<long long> polling_us{0}; // time the polls took to answer, in all
    std::thread poller([&] {
        spool_bench::client c(server.endpoint(), "");
        const auto in = c.ask(http::verb::post, "/login", "user=olga&password=pw");
        const std::string set(in[http::field::set_cookie]);
        c.cookie = set.substr(0, set.find(';'));
        std::unique_lock l{mutex};
        while (!done) {
            if (!polling) {
                changed.wait(l);
                continue;
            }
            l.unlock();
            const auto asked = clock_type::now();
            c.ask(http::verb::get, "/");
            c.ask(http::verb::get, "/messages");
            polling_us += std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - asked).count();
            ++polls;
            l.lock();
            changed.wait_for(l, std::chrono::seconds{1}, [&] { return done || !polling; });
        }
    });

    auto run = [&](bool with_dashboard) {
        {
            std::lock_guard g{mutex};
            polling = with_dashboard;
        }
        changed.notify_all();
        std::size_t sent = 0;
        const auto start = clock_type::now();
        const auto end = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
        while (clock_type::now() < end) {
            client.batch([&] {
                for (int i = 0; i < 64; ++i) client.send(m);
            });
            sp.drain();
            sent += 64;
        }
        const double rate = static_cast<double>(sent) / std::chrono::duration<double>(clock_type::now() - start).count();
        {
            std::lock_guard g{mutex};
            polling = false;
        }
        changed.notify_all();
        return rate;
    };

    std::printf("load average before: %s\n", load_average().c_str());
    run(false); // warm-up, not counted
    std::vector<double> without, with;
    for (int p = 0; p < pairs; ++p) {
        without.push_back(run(false));
        with.push_back(run(true));
        std::printf("pair %d: %.0f msg/s without, %.0f msg/s with a dashboard polling\n", p + 1, without.back(), with.back());
    }
    {
        std::lock_guard g{mutex};
        done = true;
    }
    changed.notify_all();
    poller.join();
    io.stop();
    for (auto& t : io_threads) t.join();

    const double a = median(without), b = median(with);
    std::printf("without: median %.0f msg/s (%.0f to %.0f)\n", a, *std::min_element(without.begin(), without.end()),
                *std::max_element(without.begin(), without.end()));
    std::printf("with a dashboard polling every second: median %.0f msg/s (%.0f to %.0f); %d polls\n", b,
                *std::min_element(with.begin(), with.end()), *std::max_element(with.begin(), with.end()), polls.load());
    std::printf("change: %+.1f %% (target: a drop of at most 5 %%)\n", (b / a - 1) * 100);
    std::printf("a poll (overview and messages page) took %.2f ms on average: %.2f %% of the time polled\n",
                polls ? static_cast<double>(polling_us.load()) / 1000.0 / polls.load() : 0.0,
                static_cast<double>(polling_us.load()) / 1e6 / (pairs * seconds) * 100);
    std::printf("load average after: %s\n", load_average().c_str());
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}
