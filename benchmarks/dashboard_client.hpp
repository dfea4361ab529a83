#pragma once

// A keep-alive HTTP client of the dashboard, for the benchmarks that ask it
// (web_dashboard, web_durable_rate): any answer but 200 or 303 ends the run.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace spool_bench {

namespace http = boost::beast::http;

// A keep-alive client of the dashboard, signed in with `cookie`.
struct client {
    boost::asio::io_context io;
    boost::beast::tcp_stream stream{io};
    boost::beast::flat_buffer buffer;
    std::string cookie;
    client(const boost::asio::ip::tcp::endpoint& at, std::string c) : cookie(std::move(c)) { stream.connect(at); }
    http::response<http::string_body> ask(http::verb method, const std::string& target, const std::string& body = {}) {
        http::request<http::string_body> r{method, target, 11};
        r.set(http::field::host, "127.0.0.1");
        if (!cookie.empty()) r.set(http::field::cookie, cookie);
        if (method == http::verb::post) r.set(http::field::content_type, "application/x-www-form-urlencoded");
        r.body() = body;
        r.keep_alive(true);
        r.prepare_payload();
        http::write(stream, r);
        http::response<http::string_body> out;
        http::read(stream, buffer, out);
        if (out.result_int() != 200 && out.result_int() != 303) {
            std::fprintf(stderr, "%s: %u %s\n", target.c_str(), out.result_int(), out.body().c_str());
            std::exit(1);
        }
        return out;
    }
};


} // namespace spool_bench
