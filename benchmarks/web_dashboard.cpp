// The web dashboard over a SQLite spool of many queued messages (1,000,000 by
// default), served by spool::web_server on loopback with two threads:
//   - latency of the messages page and of its first filter (state and
//     domain), with 20 clients asking at once over keep-alive connections,
//     at the 50th and 99th percentile, beside the same store call
//     (list_queue) made directly in the same run: the baseline;
//   - "hold everything matching" over 100,000 of them (one domain), and the
//     latency of the messages page asked meanwhile by another client, every
//     200 ms (the counts would not do: counting a million rows by state is a
//     300 ms scan of its own, which competes for the store).
//   build/<preset>/benchmarks/spool_web_dashboard [queued messages]
// Making the spool takes a while; it is left nowhere (a temporary file).

#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include "dashboard_client.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

namespace {

double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a;
    in >> a;
    return a;
}

} // namespace

int main(int argc, char** argv) {
    const int queued = argc > 1 ? std::atoi(argv[1]) : 1000000;
    const int held_domain_every = 10; // one message in ten goes to hold.example: 100,000 of 1,000,000
    const auto path = (std::filesystem::temp_directory_path() / ("spool-bench-web-" + std::to_string(::getpid()) + ".db")).string();
    struct cleanup {
        std::string p;
        ~cleanup() {
            for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
        }
    } remove_at_end{path};

    spool::sqlite_store store(path);
    {
        const auto start = clock_type::now();
        spool::message m;
        m.sender = {"Ann", "ann@example.org", "SMTP"};
        m.payload.subject = "quarterly figures";
        m.payload.body = std::string(512, 'x');
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        for (int done = 0; done < queued; done += 1000)
            (void)store.batch([&] {
                for (int i = done; i < done + 1000 && i < queued; ++i) {
                    m.recipients = {{"", (i % held_domain_every == 0 ? "bob@hold.example" : "bob@example.net"), "SMTP"}};
                    (void)store.create_queued(spool::folders::outbox, m);
                }
            });
        std::printf("made %d queued messages in %.1f s\n", queued, ms(clock_type::now() - start) / 1000);
    }

    spool::web_credentials users;
    users.set_user("olga", "pw", spool::web_role::operator_);
    spool::web_options options;
    options.requests_per_second = 0; // the 20 clients share one loopback address here, and stand for 20 people
    spool::web_dashboard<spool::sqlite_store> dashboard(store, users, options);
    boost::asio::io_context io;
    spool::web_server server(io, {boost::asio::ip::make_address("127.0.0.1"), 0},
                             [&](const spool::web_request& r, const std::string& a) { return dashboard.handle(r, a); });
    std::vector<std::thread> io_threads;
    for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io.run(); });

    std::string cookie, csrf;
    {
        spool_bench::client c(server.endpoint(), "");
        const auto in = c.ask(http::verb::post, "/login", "user=olga&password=pw");
        const std::string set(in[http::field::set_cookie]);
        cookie = set.substr(0, set.find(';'));
        c.cookie = cookie;
        const std::string page = c.ask(http::verb::get, "/").body();
        csrf = page.substr(page.find("name=\"csrf\" value=\"") + 19, 64);
    }

    std::printf("load average before: %s\n", load_average().c_str());
    const char* const pages[] = {"/messages", "/messages?state=due&domain=hold.example"};
    for (const char* target : pages) {
        // The baseline: the store call the page makes, directly.
        spool::queue_filter f;
        if (std::string(target).find('?') != std::string::npos) {
            f.state = spool::queue_state::due;
            f.domain = "hold.example";
        }
        std::vector<double> direct;
        for (int i = 0; i < 200; ++i) {
            const auto t = clock_type::now();
            auto rows = store.list_queue(f, std::chrono::system_clock::now(), {}, 100);
            direct.push_back(ms(clock_type::now() - t));
            if (rows.empty()) return 1;
        }
        // 20 clients at once, 50 requests each.
        std::vector<std::vector<double>> per(20);
        std::vector<std::thread> clients;
        std::atomic<int> ready{0};
        for (int k = 0; k < 20; ++k)
            clients.emplace_back([&, k] {
                spool_bench::client c(server.endpoint(), cookie);
                ++ready;
                while (ready.load() < 20) std::this_thread::yield();
                for (int i = 0; i < 50; ++i) {
                    const auto t = clock_type::now();
                    c.ask(http::verb::get, target);
                    per[k].push_back(ms(clock_type::now() - t));
                }
            });
        for (auto& t : clients) t.join();
        std::vector<double> all;
        for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
        std::printf("%-42s 20 clients: p50 %7.2f ms  p99 %7.2f ms | list_queue direct: p50 %6.2f ms  p99 %6.2f ms\n", target,
                    percentile(all, 0.5), percentile(all, 0.99), percentile(direct, 0.5), percentile(direct, 0.99));
    }

    {
        spool_bench::client counter(server.endpoint(), cookie), actor(server.endpoint(), cookie);
        const std::string count = actor.ask(http::verb::get, "/api/messages/count?domain=hold.example").body();
        const std::string up_to = count.substr(count.find("\"up_to\":") + 8, count.find('}') - count.find("\"up_to\":") - 8);
        std::atomic<bool> done{false};
        std::vector<double> polls;
        std::thread poller([&] {
            while (!done.load()) {
                const auto t = clock_type::now();
                counter.ask(http::verb::get, "/messages");
                polls.push_back(ms(clock_type::now() - t));
                std::this_thread::sleep_for(std::chrono::milliseconds{200});
            }
        });
        const auto t = clock_type::now();
        const std::string result =
            actor.ask(http::verb::post, "/api/messages/all/hold?domain=hold.example", "csrf=" + csrf + "&up_to=" + up_to).body();
        const double took = ms(clock_type::now() - t);
        done = true;
        poller.join();
        std::printf("hold everything matching (%s): %.2f s, %s", count.substr(0, count.find(',')).c_str(), took / 1000, result.c_str());
        std::printf("/messages meanwhile: %zu answers, p50 %.2f ms, max %.2f ms\n", polls.size(), percentile(polls, 0.5),
                    *std::max_element(polls.begin(), polls.end()));
    }
    std::printf("load average after: %s\n", load_average().c_str());
    io.stop();
    for (auto& t : io_threads) t.join();
    return 0;
}
