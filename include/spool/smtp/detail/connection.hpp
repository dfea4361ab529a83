#pragma once

// One SMTP connection: a TCP socket, TLS on it once STARTTLS (or implicit TLS)
// has run, what the server's EHLO offered, and reads and writes each bounded
// by its phase's deadline. A deadline that passes closes the socket, which
// ends the pending operation; the error then says "timeout". A deadline
// bounds a whole reply, not each read of it: a server that drips its reply
// an octet at a time cannot stretch a phase past its limit. Cancelling the
// hand-off (its cancellation slot) ends a pending operation too, with
// operation_aborted.

#include <spool/smtp/detail/reply.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace spool::detail::smtp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

/// A failure of the connection itself: an I/O error, a timeout, the server
/// gone (a 421 among them) or a reply that is not SMTP. Nothing more can be
/// said on it. `code` is the server's RFC 3463 code where it said why (a 421's),
/// else 4.4.2, a connection that broke.
struct stream_error : std::runtime_error {
    explicit stream_error(const std::string& what, std::string c = "4.4.2")
        : std::runtime_error(what), code(c.empty() ? "4.4.2" : std::move(c)) {}
    std::string code;
};

/// What the server's EHLO reply offered (RFC 5321 §4.1.1.1 and the extensions' RFCs).
struct extensions {
    bool esmtp = false;
    bool pipelining = false;
    bool eight_bit_mime = false;
    bool smtputf8 = false;
    bool enhanced_status_codes = false;
    bool dsn = false;
    bool starttls = false;
    bool auth_plain = false;
    bool auth_login = false;
    bool size_offered = false;
    std::uint64_t size_limit = 0; ///< 0: none given

    static extensions from_ehlo(const reply& r) {
        extensions e;
        e.esmtp = true;
        for (std::size_t i = 1; i < r.lines.size(); ++i) {
            std::string line = r.lines[i];
            for (char& c : line)
                if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
            const std::string_view l = line;
            const auto word = l.substr(0, l.find_first_of(" ="));
            const auto rest = word.size() < l.size() ? l.substr(word.size() + 1) : std::string_view{};
            if (word == "PIPELINING") e.pipelining = true;
            else if (word == "8BITMIME") e.eight_bit_mime = true;
            else if (word == "SMTPUTF8") e.smtputf8 = true;
            else if (word == "ENHANCEDSTATUSCODES") e.enhanced_status_codes = true;
            else if (word == "DSN") e.dsn = true;
            else if (word == "STARTTLS") e.starttls = true;
            else if (word == "SIZE") {
                e.size_offered = true;
                std::uint64_t n = 0;
                for (char c : rest) {
                    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) break;
                    n = n * 10 + std::uint64_t(c - '0');
                }
                e.size_limit = n;
            } else if (word == "AUTH") {
                for (std::size_t p = 0; p < rest.size();) {
                    const std::size_t q = std::min(rest.find(' ', p), rest.size());
                    const auto mechanism = rest.substr(p, q - p);
                    e.auth_plain = e.auth_plain || mechanism == "PLAIN";
                    e.auth_login = e.auth_login || mechanism == "LOGIN";
                    p = q + 1;
                }
            }
        }
        return e;
    }
};

class connection : public std::enable_shared_from_this<connection> {
public:
    using clock = std::chrono::steady_clock;

    connection(asio::any_io_executor ex, std::string host) : socket_(ex), watchdog_(ex), host_(std::move(host)) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    tcp::socket& socket() noexcept { return socket_; }
    const std::string& host() const noexcept { return host_; }
    bool encrypted() const noexcept { return tls_.has_value(); }
    bool open() const noexcept { return socket_.is_open() && idle_.load() != idle_state::closing; }
    extensions ext{};
    std::size_t host_index = 0; ///< which of the destination's next hops it reaches
    clock::time_point opened = clock::now();
    clock::time_point idle_since = clock::now();

    /// Closes the socket; a pending read or write ends with an error.
    void close() noexcept {
        boost::system::error_code ignored;
        socket_.close(ignored);
        ++generation_;
        watchdog_.cancel();
    }

    /// Idle in the transport's pool: when `limit` passes unused, it says QUIT
    /// (not waiting for the reply, as Postfix's smtp_skip_quit_response) and closes.
    void park(milliseconds limit, milliseconds quit_limit) {
        idle_since = clock::now();
        idle_.store(idle_state::parked);
        const auto mine = ++generation_;
        watchdog_.expires_after(limit);
        watchdog_.async_wait([self = shared_from_this(), mine, quit_limit](const boost::system::error_code& ec) {
            auto parked = idle_state::parked;
            if (ec || mine != self->generation_ || !self->idle_.compare_exchange_strong(parked, idle_state::closing)) return;
            asio::co_spawn(self->socket_.get_executor(), self->quit(quit_limit), asio::detached);
        });
    }
    /// Back from the pool; false when its idle limit has already passed.
    bool unpark() {
        auto parked = idle_state::parked;
        if (!idle_.compare_exchange_strong(parked, idle_state::active)) return false;
        disarm();
        return true;
    }

    asio::awaitable<void> connect(const tcp::endpoint& to, milliseconds limit) {
        arm(limit, "connect");
        const auto [ec] = co_await socket_.async_connect(to, as_result);
        if (ec) fail(ec);
        disarm();
        boost::system::error_code ignored;
        socket_.set_option(tcp::no_delay(true), ignored);
    }

    /// Starts TLS on the connection. Whatever the server sent before, and the
    /// EHLO it gave, is forgotten (RFC 3207 §4.2): plain text read before the
    /// handshake must never pass for a reply inside TLS.
    asio::awaitable<void> start_tls(asio::ssl::context& context, bool verify, milliseconds limit) {
        input_.clear();
        ext = extensions{};
        tls_.emplace(socket_, context);
        const bool is_address = [&] {
            boost::system::error_code ec;
            asio::ip::make_address(host_, ec);
            return !ec;
        }();
        if (!is_address) SSL_set_tlsext_host_name(tls_->native_handle(), host_.c_str());
        if (verify) {
            tls_->set_verify_mode(asio::ssl::verify_peer);
            tls_->set_verify_callback(asio::ssl::host_name_verification(host_));
        } else {
            tls_->set_verify_mode(asio::ssl::verify_none);
        }
        arm(limit, "TLS handshake");
        const auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, as_result);
        if (ec) fail(ec, "TLS handshake failed: ");
        disarm();
    }

    /// A phase's deadline: its limit from now.
    static clock::time_point within(milliseconds limit) { return clock::now() + limit; }

    asio::awaitable<void> write(std::string_view data, milliseconds limit, const char* phase) {
        co_await write(data, within(limit), phase);
    }
    asio::awaitable<void> write(std::string_view data, clock::time_point until, const char* phase) {
        arm(until, phase);
        const auto [ec, n] = tls_ ? co_await asio::async_write(*tls_, asio::buffer(data), as_result)
                                  : co_await asio::async_write(socket_, asio::buffer(data), as_result);
        if (ec) fail(ec);
        disarm();
    }

    /// The next reply, whole within `limit`; bytes after it stay for the next
    /// read (pipelined replies).
    asio::awaitable<reply> read(milliseconds limit, const char* phase) { co_return co_await read(within(limit), phase); }
    asio::awaitable<reply> read(clock::time_point until, const char* phase) {
        reply r;
        for (;;) {
            const parse_outcome p = parse_reply(std::string_view(input_).substr(consumed_), r);
            if (p.status == parse_status::complete) {
                consumed_ += p.used;
                if (consumed_ == input_.size()) {
                    input_.clear();
                    consumed_ = 0;
                }
                co_return r;
            }
            if (p.status == parse_status::malformed) {
                close();
                throw stream_error(std::string("malformed reply from ") + host_ + ": " + p.error);
            }
            if (consumed_) {
                input_.erase(0, consumed_);
                consumed_ = 0;
            }
            char buffer[4096];
            arm(until, phase);
            const auto [ec, n] = tls_ ? co_await tls_->async_read_some(asio::buffer(buffer), as_result)
                                      : co_await socket_.async_read_some(asio::buffer(buffer), as_result);
            if (ec) fail(ec);
            disarm();
            input_.append(buffer, n);
        }
    }

    /// A command and its reply, both within `limit`.
    asio::awaitable<reply> command(std::string_view line, milliseconds limit, const char* phase) {
        co_return co_await command(line, within(limit), phase);
    }
    asio::awaitable<reply> command(std::string_view line, clock::time_point until, const char* phase) {
        co_await write(line, until, phase);
        co_return co_await read(until, phase);
    }

private:
    enum class idle_state { active, parked, closing };

    // Closes it as a time limit does, so that the error reads as a timeout of `why`.
    void cut(std::string why) noexcept {
        cut_reason_ = std::move(why);
        close();
    }

    // Expected failures come back as values, not exceptions: each is turned
    // into the one stream_error the callers handle.
    static constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

    asio::awaitable<void> quit(milliseconds limit) {
        auto self = shared_from_this();
        try {
            co_await write("QUIT\r\n", limit, "QUIT");
        } catch (const stream_error&) {
        }
        close();
    }

    void arm(milliseconds limit, const char* phase) { arm(within(limit), phase); }
    void arm(clock::time_point until, const char* phase) {
        const auto mine = ++generation_;
        watchdog_.expires_at(until);
        watchdog_.async_wait([self = shared_from_this(), mine, phase](const boost::system::error_code& ec) {
            if (ec || mine != self->generation_) return;
            self->cut(std::string("timeout in ") + phase);
        });
    }
    void disarm() {
        ++generation_;
        watchdog_.cancel();
    }

    // An I/O error as the stream_error it means: a timeout where a deadline
    // cut the socket, else the error's own words.
    [[noreturn]] void fail(const boost::system::error_code& ec, const char* prefix = "") {
        disarm();
        const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
        std::string what = cut_reason_.empty() ? (eof ? std::string("connection closed by ") + host_
                                                      : std::string(prefix) + ec.message() + " (" + host_ + ")")
                                               : cut_reason_ + " with " + host_;
        close();
        throw stream_error(what);
    }

    tcp::socket socket_;
    std::optional<asio::ssl::stream<tcp::socket&>> tls_;
    asio::steady_timer watchdog_;
    std::string host_;
    std::string input_;
    std::size_t consumed_ = 0;
    std::uint64_t generation_ = 0;
    std::string cut_reason_;
    std::atomic<idle_state> idle_{idle_state::active};
};

} // namespace spool::detail::smtp
