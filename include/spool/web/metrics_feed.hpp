#pragma once

// Charts for a dashboard that runs apart from the spooler (spoolctl serve):
// a web_activity fed from the spooler's metrics page (spool::metrics, in the
// Prometheus text format or OpenMetrics), read over HTTP every so often.
// Each read's growth in the counters since the one before is added to the
// minute it was read in; the first read only sets where counting starts,
// and a counter that went down (the spooler restarted) counts from zero.

#include <spool/web/activity.hpp>
#include <spool/web/detail/metrics_text.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace spool {

class web_metrics_feed {
public:
    /// Reads `url` (`http://host[:port]/path`) on `io` now and every `every`,
    /// into `activity`; `on_problem` hears of a read that failed, with why.
    /// Throws std::invalid_argument for a URL of another form. Destroy it
    /// after `io` has stopped.
    web_metrics_feed(boost::asio::io_context& io, const std::string& url, web_activity activity,
                     std::chrono::milliseconds every = std::chrono::seconds{60}, std::function<void(const std::string&)> on_problem = {})
        : strand_(boost::asio::make_strand(io)), resolver_(strand_), stream_(strand_), timer_(strand_), activity_(std::move(activity)),
          every_(every), on_problem_(std::move(on_problem)) {
        parse(url);
        boost::asio::post(strand_, [this] { read(); });
    }

    /// Reads that worked so far.
    std::size_t reads() const { return reads_.load(); }

private:
    void parse(const std::string& url) {
        constexpr std::string_view scheme = "http://";
        if (url.compare(0, scheme.size(), scheme) != 0) throw std::invalid_argument("the metrics URL must be http://host[:port]/path, not '" + url + "'");
        const std::string rest = url.substr(scheme.size());
        const std::size_t slash = rest.find('/');
        const std::string authority = rest.substr(0, slash);
        target_ = slash == std::string::npos ? "/" : rest.substr(slash);
        const std::size_t colon = authority.rfind(':');
        host_ = colon == std::string::npos ? authority : authority.substr(0, colon);
        port_ = colon == std::string::npos ? "80" : authority.substr(colon + 1);
        if (host_.empty() || port_.empty() || port_.find_first_not_of("0123456789") != std::string::npos)
            throw std::invalid_argument("the metrics URL must be http://host[:port]/path, not '" + url + "'");
    }

    void read() {
        stream_.expires_after(std::chrono::seconds{10});
        resolver_.async_resolve(host_, port_, [this](boost::beast::error_code ec, boost::asio::ip::tcp::resolver::results_type at) {
            if (ec) return failed("cannot find " + host_ + ": " + ec.message());
            stream_.async_connect(at, [this](boost::beast::error_code ec, const boost::asio::ip::tcp::endpoint&) {
                if (ec) return failed("cannot connect to " + host_ + ":" + port_ + ": " + ec.message());
                request_ = {boost::beast::http::verb::get, target_, 11};
                request_.set(boost::beast::http::field::host, host_);
                request_.set(boost::beast::http::field::accept, "application/openmetrics-text; version=1.0.0, text/plain; q=0.5");
                boost::beast::http::async_write(stream_, request_, [this](boost::beast::error_code ec, std::size_t) {
                    if (ec) return failed("cannot ask " + host_ + ": " + ec.message());
                    response_ = {};
                    boost::beast::http::async_read(stream_, buffer_, response_, [this](boost::beast::error_code ec, std::size_t) {
                        if (ec) return failed("cannot read " + host_ + "'s answer: " + ec.message());
                        take(response_);
                        close_then_wait();
                    });
                });
            });
        });
    }

    void take(const boost::beast::http::response<boost::beast::http::string_body>& r) {
        if (r.result() != boost::beast::http::status::ok)
            return problem(host_ + target_ + " answered " + std::to_string(r.result_int()) + ", not 200");
        const auto totals = detail::web::metric_totals(r.body());
        if (!totals) return problem(host_ + target_ + " has none of spool's counters");
        if (last_) {
            auto grown = [](std::uint64_t now, std::uint64_t before) { return now >= before ? now - before : now; };
            activity_.add(activity_.now(), {{},
                                            grown(totals->submitted, last_->submitted),
                                            grown(totals->finished, last_->finished),
                                            grown(totals->sent, last_->sent),
                                            grown(totals->deferred, last_->deferred),
                                            grown(totals->failed, last_->failed)});
        }
        last_ = totals;
        ++reads_;
    }

    void failed(const std::string& why) {
        problem(why);
        close_then_wait();
    }
    void problem(const std::string& why) {
        if (on_problem_) on_problem_(why);
    }
    void close_then_wait() {
        boost::beast::error_code ignored;
        stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        stream_.close();
        buffer_.clear();
        timer_.expires_after(every_);
        timer_.async_wait([this](boost::beast::error_code ec) {
            if (!ec) read();
        });
    }

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::ip::tcp::resolver resolver_;
    boost::beast::tcp_stream stream_;
    boost::asio::steady_timer timer_;
    boost::beast::flat_buffer buffer_;
    boost::beast::http::request<boost::beast::http::empty_body> request_;
    boost::beast::http::response<boost::beast::http::string_body> response_;
    web_activity activity_;
    std::chrono::milliseconds every_;
    std::function<void(const std::string&)> on_problem_;
    std::string host_, port_, target_;
    std::optional<web_minute> last_;
    std::atomic<std::size_t> reads_{0};
};

} // namespace spool
