#pragma once

// One HTTP request over a new loopback connection, and its answer: how the
// tests ask a served dashboard (spool::web_server, spoolctl serve).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace spool_test {

inline boost::beast::http::response<boost::beast::http::string_body>
ask_http(const boost::asio::ip::tcp::endpoint& at, boost::beast::http::request<boost::beast::http::string_body> r) {
    namespace http = boost::beast::http;
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect(at);
    r.set(http::field::host, at.address().to_string());
    r.prepare_payload();
    http::write(stream, r);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> out;
    http::read(stream, buffer, out);
    return out;
}

} // namespace spool_test
