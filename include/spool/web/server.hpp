#pragma once

// Serves a dashboard over HTTP, or HTTPS with the user's certificate, with
// Boost.Beast, on an io_context the caller runs (docs/web.md, "Serving"). It
// listens where it is told; spoolctl serve tells it loopback unless asked
// otherwise. A request's header may be 8 KiB and its body 64 KiB (a sign-in
// or an action is a few hundred bytes); a client gets 30 s to send one, and
// to finish a TLS handshake. Larger or slower requests are answered with an
// error, or the connection is closed.

#include <spool/web/dashboard.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace spool {

/// What answers a request: a web_dashboard's handle().
using web_handler = std::function<web_response(const web_request&, const std::string& client_address)>;

namespace detail::web {

using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
class connection : public std::enable_shared_from_this<connection<Stream>> {
public:
    static constexpr bool tls = std::is_same_v<Stream, tls_stream>;

    template <class... Context>
    connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<const web_handler> handler, Context&... tls_context)
        : stream_(std::move(socket), tls_context...), handler_(std::move(handler)) {
        boost::system::error_code ec;
        const auto peer = socket_().remote_endpoint(ec);
        address_ = ec ? std::string("unknown") : peer.address().to_string();
    }
    void start() {
        if constexpr (tls) {
            lowest().expires_after(std::chrono::seconds{30});
            stream_.async_handshake(boost::asio::ssl::stream_base::server, [self = this->shared_from_this()](boost::beast::error_code ec) {
                if (ec) return self->lowest().close(); // not TLS, or no cipher in common: nothing to answer
                self->read();
            });
        } else {
            read();
        }
    }

private:
    boost::beast::tcp_stream& lowest() { return boost::beast::get_lowest_layer(stream_); }
    boost::asio::ip::tcp::socket& socket_() { return lowest().socket(); }
    static constexpr std::size_t header_limit = 8 * 1024, body_limit = 64 * 1024;

    void read() {
        parser_.emplace();
        parser_->header_limit(header_limit);
        parser_->body_limit(body_limit);
        lowest().expires_after(std::chrono::seconds{30});
        boost::beast::http::async_read(stream_, buffer_, *parser_,
                                       [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) { self->on_read(ec); });
    }
    void on_read(boost::beast::error_code ec) {
        if (ec == boost::beast::http::error::end_of_stream || ec == boost::beast::error::timeout || ec == boost::asio::error::operation_aborted)
            return close();
        if (ec) { // a request too large or malformed: say so, then close
            web_request none;
            none.version(11);
            web_response r{ec == boost::beast::http::error::body_limit || ec == boost::beast::http::error::header_limit
                               ? boost::beast::http::status::payload_too_large
                               : boost::beast::http::status::bad_request,
                           11};
            r.set(boost::beast::http::field::content_type, "text/plain; charset=utf-8");
            r.body() = "the request cannot be read: " + ec.message() + "\n";
            r.keep_alive(false);
            r.prepare_payload();
            return write(std::move(r));
        }
        web_response r = (*handler_)(parser_->get(), address_);
        return write(std::move(r));
    }
    void write(web_response r) {
        auto held = std::make_shared<web_response>(std::move(r));
        const bool keep = held->keep_alive();
        boost::beast::http::async_write(stream_, *held, [self = this->shared_from_this(), held, keep](boost::beast::error_code ec, std::size_t) {
            if (ec || !keep) return self->close();
            self->read();
        });
    }
    // A lingering close: the answer is sent, then what the client still
    // sends (the rest of a body too large to read) is read and dropped until
    // it closes too, or for 5 s. Closed at once, the socket would reset the
    // connection, and the client might lose the answer. Over TLS the close
    // is TLS's own (close_notify) first.
    void close() {
        lowest().expires_after(std::chrono::seconds{5});
        if constexpr (tls) {
            stream_.async_shutdown([self = this->shared_from_this()](boost::beast::error_code) { self->lowest().close(); });
        } else {
            boost::beast::error_code ignored;
            socket_().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
            drain();
        }
    }
    void drain() {
        lowest().async_read_some(boost::asio::buffer(discard_), [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
            if (!ec) self->drain();
        });
    }

    Stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    std::shared_ptr<const web_handler> handler_;
    std::string address_;
    std::array<char, 4096> discard_;
};

} // namespace detail::web

/// A TLS context for web_server from the user's certificate chain and
/// private key (PEM files): TLS 1.2 or later. Throws
/// boost::system::system_error naming the file it cannot use.
inline boost::asio::ssl::context web_tls_context(const std::string& certificate_chain_file, const std::string& private_key_file) {
    boost::asio::ssl::context tls(boost::asio::ssl::context::tls_server);
    tls.set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                    boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1 | boost::asio::ssl::context::no_compression);
    boost::system::error_code ec;
    tls.use_certificate_chain_file(certificate_chain_file, ec);
    if (ec) throw boost::system::system_error(ec, "the certificate " + certificate_chain_file);
    tls.use_private_key_file(private_key_file, boost::asio::ssl::context::pem, ec);
    if (ec) throw boost::system::system_error(ec, "the private key " + private_key_file);
    return tls;
}

/// Accepts connections on `endpoint` and answers each request with
/// `handler`, on the caller's io_context, until stop() or the context ends:
/// over HTTPS when given a TLS context (web_tls_context()), which must
/// outlive the server. Throws boost::system::system_error when it cannot
/// listen there.
class web_server {
public:
    web_server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, web_handler handler)
        : io_(io), acceptor_(io, endpoint), handler_(std::make_shared<const web_handler>(std::move(handler))) {
        accept();
    }
    web_server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, boost::asio::ssl::context& tls, web_handler handler)
        : io_(io), acceptor_(io, endpoint), handler_(std::make_shared<const web_handler>(std::move(handler))), tls_(&tls) {
        accept();
    }
    /// Where it listens (the port the system chose, for port 0).
    boost::asio::ip::tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
    void stop() {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    }

private:
    void accept() {
        acceptor_.async_accept(boost::asio::make_strand(io_), [this](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
            if (ec == boost::asio::error::operation_aborted) return;
            if (!ec) {
                if (tls_) std::make_shared<detail::web::connection<detail::web::tls_stream>>(std::move(socket), handler_, *tls_)->start();
                else std::make_shared<detail::web::connection<detail::web::plain_stream>>(std::move(socket), handler_)->start();
            }
            accept();
        });
    }

    boost::asio::io_context& io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<const web_handler> handler_;
    boost::asio::ssl::context* tls_ = nullptr;
};

} // namespace spool
