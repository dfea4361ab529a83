// A spooler's metrics page, served with Boost.Beast on a loopback port.
//
//     spool_example_metrics_server <database> [port] [--requests N]
//
// A spooler works the SQLite spool at <database> (made if missing) with a
// demonstration transport that sends mail for example.org and defers the rest;
// the example submits a few messages so that the page has something to show.
// GET /metrics answers in the Prometheus text format, or in OpenMetrics when
// the scraper asks for it (Accept: application/openmetrics-text), as
// Prometheus does. The queue's gauges are sampled from the store for each
// request. Port 0 (the default) takes a free one; the first line printed
// names the address. With --requests N it stops after N requests (for tests).

#include <spool/administration.hpp>
#include <spool/ops/metrics.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Sends mail for example.org; everything else waits, as if its server were busy.
struct demo_transport {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return spool::address_types{"SMTP"}; }
    std::string destination(const spool::recipient& r) const { return spool::address_domain(r.address); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            if (spool::address_domain(r.address) == "example.org") tx.sent(r);
            else tx.deferred(r, "451 4.3.2 try again later", "4.3.2");
        }
        return spool::transmit_result::done();
    }
};

template <class Spooler>
http::response<http::string_body> answer(const http::request<http::string_body>& req, spool::metrics& metrics,
                                         const spool::sqlite_store& store, Spooler& spooler) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "spool metrics example");
    if (req.method() != http::verb::get || req.target() != "/metrics") {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "text/plain");
        res.body() = "try GET /metrics\n";
    } else {
        metrics.sample_queue(store, std::chrono::system_clock::now());
        metrics.sample_destinations(spooler.destinations());
        const bool openmetrics = req[http::field::accept].find("application/openmetrics-text") != beast::string_view::npos;
        const auto format = openmetrics ? spool::exposition::openmetrics : spool::exposition::prometheus;
        res.set(http::field::content_type, std::string(spool::content_type(format)));
        res.body() = metrics.render(format);
    }
    res.keep_alive(false);
    res.prepare_payload();
    return res;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " <database> [port] [--requests N]\n";
        return 2;
    }
    unsigned short port = 0;
    long requests = -1; // serve until killed
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--requests" && i + 1 < argc) requests = std::atol(argv[++i]);
        else port = static_cast<unsigned short>(std::atoi(a.c_str()));
    }

    spool::sqlite_store store(argv[1]);
    spool::metrics_options options;
    options.transport_names = {"demo"};
    spool::metrics metrics(options);
    spool::spooler spooler{store, demo_transport{}, metrics};
    spooler.start(); // its own thread: the page shows what it does meanwhile
    auto client = spooler.client();
    for (const char* to : {"ann@example.org", "bob@example.org", "carol@example.net"}) {
        spool::message m;
        m.recipients = {{to, to, "SMTP"}};
        m.sender = {"Monitor", "monitor@example.org", "SMTP"};
        m.payload.subject = "disk usage report";
        (void)client.send(m);
    }

    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port}); // loopback only
    std::cout << "metrics at http://127.0.0.1:" << acceptor.local_endpoint().port() << "/metrics" << std::endl;
    for (long served = 0; requests < 0 || served < requests; ++served) {
        asio::ip::tcp::socket socket(io);
        acceptor.accept(socket);
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        beast::error_code ec;
        http::read(socket, buffer, req, ec);
        if (ec) continue; // a client that hung up: the next one
        http::write(socket, answer(req, metrics, store, spooler), ec);
        socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    }
    spooler.stop();
    return 0;
}
