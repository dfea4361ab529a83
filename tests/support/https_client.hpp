#pragma once

// One HTTPS request over a new loopback connection, and its answer (apart
// from http_client.hpp, so that a test without OpenSSL need not link it).

#include "support/http_client.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <string>

namespace spool_test {

// Over TLS, checking the server's certificate against the CA file `ca`.
inline http_response ask_https(const boost::asio::ip::tcp::endpoint& at, const std::string& ca, http_request r) {
    boost::asio::io_context io;
    boost::asio::ssl::context client(boost::asio::ssl::context::tls_client);
    client.load_verify_file(ca);
    client.set_verify_mode(boost::asio::ssl::verify_peer);
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream(io, client);
    boost::beast::get_lowest_layer(stream).connect(at);
    stream.handshake(boost::asio::ssl::stream_base::client);
    return exchange(stream, at, std::move(r));
}

} // namespace spool_test
