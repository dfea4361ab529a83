#pragma once

// One HTTP request over a new loopback connection, and its answer: how the
// tests ask a served dashboard (spool::web_server, spoolctl serve). Over
// TLS: https_client.hpp.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <string>

namespace spool_test {

using http_response = boost::beast::http::response<boost::beast::http::string_body>;
using http_request = boost::beast::http::request<boost::beast::http::string_body>;

// Writes `r` on a connected stream and reads the answer.
template <class Stream>
http_response exchange(Stream& stream, const boost::asio::ip::tcp::endpoint& at, http_request r) {
    namespace http = boost::beast::http;
    r.set(http::field::host, at.address().to_string());
    r.prepare_payload();
    http::write(stream, r);
    boost::beast::flat_buffer buffer;
    http_response out;
    http::read(stream, buffer, out);
    return out;
}

inline http_response ask_http(const boost::asio::ip::tcp::endpoint& at, http_request r) {
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect(at);
    return exchange(stream, at, std::move(r));
}

} // namespace spool_test
