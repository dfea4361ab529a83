#pragma once

// The SMTP transport's machinery: hand-offs as coroutines on one io_context,
// idle connections kept per destination for the next message, next hops from
// the relay or the resolver (on a thread of its own, as res_nquery blocks),
// and cancellation for spooler.stop().

#include <spool/smtp/detail/session.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace spool::detail::smtp {

class engine : public std::enable_shared_from_this<engine> {
public:
    using resolve_function = std::function<smtp_route(std::string_view)>;

    engine(smtp_options options, resolve_function resolve, asio::any_io_executor io, asio::any_io_executor lookups)
        : options_(std::move(options)), resolve_(std::move(resolve)), io_(std::move(io)), lookups_(std::move(lookups)) {
        plain_.set_verify_mode(asio::ssl::verify_none);
        if (options_.ca_file.empty()) verifying_.set_default_verify_paths();
        else verifying_.load_verify_file(options_.ca_file);
        settings_ = {&options_, &plain_, &verifying_};
    }

    const smtp_options& options() const noexcept { return options_; }

    /// Runs the job on the I/O context and then `finished(job)` there.
    template <class F>
    void start(std::unique_ptr<job> j, F finished) {
        asio::co_spawn(io_, run(shared_from_this(), std::move(j), std::move(finished)), asio::detached);
    }

    /// Ends every hand-off in flight (they complete as cancelled) and closes
    /// the idle connections.
    void cancel_all() {
        std::lock_guard lock{mutex_};
        ++epoch_;
        for (auto& [raw, weak] : active_)
            if (auto c = weak.lock()) asio::post(io_, [c] { c->cut("cancelled"); });
        for (auto& [destination, list] : idle_)
            for (auto& c : list) asio::post(io_, [c] { c->close(); });
        idle_.clear();
    }

private:
    template <class F>
    static asio::awaitable<void> run(std::shared_ptr<engine> self, std::unique_ptr<job> j, F finished) {
        co_await self->deliver(*j);
        finished(*j);
    }

    // Keeps a connection in the active set while a hand-off uses it, so that
    // cancel_all() can reach it.
    struct in_use {
        engine* e;
        connection* raw = nullptr;
        void track(const std::shared_ptr<connection>& c) {
            release();
            raw = c.get();
            std::lock_guard lock{e->mutex_};
            e->active_[raw] = c;
        }
        void release() {
            if (!raw) return;
            std::lock_guard lock{e->mutex_};
            e->active_.erase(raw);
            raw = nullptr;
        }
        ~in_use() { release(); }
    };

    asio::awaitable<void> deliver(job& j) {
        const std::uint64_t epoch = [&] {
            std::lock_guard lock{mutex_};
            return epoch_;
        }();
        in_use guard{this};
        const session_hooks hooks{[&](const std::shared_ptr<connection>& c) { guard.track(c); },
                                           [&] { return cancelled(epoch); }};
        try {
            std::vector<smtp_host> hosts;
            if (options_.relay) {
                hosts.push_back(smtp_host{options_.relay->host, options_.relay->port, {}});
            } else {
                co_await asio::post(lookups_, asio::use_awaitable);
                smtp_route route = resolve_(j.domain);
                co_await asio::post(io_, asio::use_awaitable);
                switch (route.what) {
                case smtp_route::kind::hosts: hosts = std::move(route.hosts); break;
                case smtp_route::kind::null_mx: j.settle_rest(outcome::kind::failed, route.error, "5.1.10"); co_return;
                case smtp_route::kind::no_such_domain: j.settle_rest(outcome::kind::failed, route.error, "5.1.2"); co_return;
                case smtp_route::kind::lookup_failed: j.fail(job::end::site_failure, route.error, "4.4.3"); co_return;
                }
            }
            std::vector<std::size_t> todo;
            for (std::size_t i = 0; i < j.recipients.size(); ++i) todo.push_back(i);
            // Recipients one host deferred on its own (a 4xx to RCPT, or the
            // connection lost before their data was taken) go to the next MX,
            // as Postfix sends them; on the last host, the deferral stands.
            std::vector<std::size_t> elsewhere;
            std::size_t first_host = 0, last_host = 0;
            const auto more_hosts = [&](std::size_t host) { return !options_.relay && host + 1 < hosts.size(); };
            std::shared_ptr<connection> c = take_idle(j.destination);
            bool reused = c != nullptr;
            for (;;) {
                while (!todo.empty()) {
                    if (!c) {
                        if (first_host == 0) {
                            c = co_await session::open(io_, hosts, settings_, hooks);
                        } else {
                            try {
                                c = co_await session::open(io_, hosts, settings_, hooks, first_host);
                            } catch (const site_error&) {
                                break; // the first host's deferrals stand; the destination did answer
                            }
                        }
                        reused = false;
                    }
                    guard.track(c);
                    const std::size_t host = last_host = c->host_index;
                    if (cancelled(epoch)) break;
                    if (!session::acceptable(j, *c)) break;
                    const std::size_t n = std::min(todo.size(), std::max<std::size_t>(options_.max_recipients, 1));
                    const std::vector<std::size_t> batch(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(n));
                    todo.erase(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(n));
                    std::vector<session::overflowed> overflow;
                    bool answered = false;
                    session::transaction_end end;
                    try {
                        end = co_await session::transact(*c, j, batch, overflow, answered, options_);
                    } catch (const stream_error& e) {
                        c.reset();
                        if (reused && !answered && !cancelled(epoch)) {
                            // An idle connection the server had given up on: nothing
                            // was accepted on it, so a new one may try the same batch.
                            todo.insert(todo.begin(), batch.begin(), batch.end());
                            continue;
                        }
                        if (more_hosts(host) && !cancelled(epoch)) {
                            const auto move_on = [&](std::size_t i) {
                                if (j.recipients[i].result.what != outcome::kind::none) return;
                                j.recipients[i].result = {outcome::kind::deferred, e.what(), e.code};
                                elsewhere.push_back(i);
                            };
                            std::ranges::for_each(batch, move_on);
                            std::ranges::for_each(todo, move_on);
                            todo.clear();
                            break;
                        }
                        j.settle_rest(outcome::kind::deferred, e.what(), e.code);
                        break;
                    }
                    // Overflow goes in the next transaction while each takes some; a
                    // transaction that took none keeps the server's own refusal.
                    if (overflow.size() < batch.size()) {
                        std::vector<std::size_t> next;
                        for (const auto& o : overflow) next.push_back(o.recipient);
                        todo.insert(todo.begin(), next.begin(), next.end());
                    } else {
                        for (const auto& o : overflow) j.recipients[o.recipient].result = refused_by(o.why);
                    }
                    if (more_hosts(host))
                        for (std::size_t i : batch)
                            if (j.recipients[i].result.elsewhere) elsewhere.push_back(i);
                    if (!end.reusable) c.reset();
                }
                if (elsewhere.empty() || cancelled(epoch) || j.result != job::end::done) break;
                first_host = last_host + 1;
                if (c && c->open()) keep(j.destination, std::move(c));
                c.reset();
                todo = std::exchange(elsewhere, {});
                for (std::size_t i : todo) j.recipients[i].result.elsewhere = false;
            }
            guard.release();
            if (c && c->open() && !cancelled(epoch)) keep(j.destination, std::move(c));
        } catch (const site_error& e) {
            j.fail(job::end::site_failure, e.what(), e.code);
        } catch (const stream_error& e) {
            j.fail(job::end::site_failure, e.what(), e.code);
        }
        // Cut short by stop(): neither the destination's fault nor the message's.
        if (cancelled(epoch) && j.result != job::end::message_failed) j.result = job::end::cancelled;
        if (j.result == job::end::done) j.settle_rest(outcome::kind::deferred, "not attempted", "4.0.0");
    }

    bool cancelled(std::uint64_t epoch) {
        std::lock_guard lock{mutex_};
        return epoch != epoch_;
    }

    std::shared_ptr<connection> take_idle(const std::string& destination) {
        std::lock_guard lock{mutex_};
        auto it = idle_.find(destination);
        if (it == idle_.end()) return nullptr;
        auto& list = it->second;
        while (!list.empty()) {
            auto c = std::move(list.back());
            list.pop_back();
            if (c->open() && connection::clock::now() - c->opened < options_.reuse_limit && c->unpark()) return c;
            c->close();
        }
        return nullptr;
    }

    void keep(const std::string& destination, std::shared_ptr<connection> c) {
        if (connection::clock::now() - c->opened >= options_.reuse_limit) {
            c->close();
            return;
        }
        c->park(options_.idle_limit, options_.timeouts.quit);
        std::lock_guard lock{mutex_};
        auto& list = idle_[destination];
        std::erase_if(list, [](const auto& x) { return !x->open(); });
        list.push_back(std::move(c));
    }

    smtp_options options_;
    resolve_function resolve_;
    asio::any_io_executor io_;
    asio::any_io_executor lookups_;
    asio::ssl::context plain_{asio::ssl::context::tls_client};
    asio::ssl::context verifying_{asio::ssl::context::tls_client};
    session_settings settings_;
    std::mutex mutex_;
    std::uint64_t epoch_ = 0;
    std::map<connection*, std::weak_ptr<connection>> active_;
    std::map<std::string, std::vector<std::shared_ptr<connection>>, std::less<>> idle_;
};

/// The threads behind a transport: its own io_context and thread (unless the
/// user gave one) and one thread for resolver lookups. Destroying it cancels
/// what is in flight and joins them.
class runner {
public:
    runner(smtp_options options, engine::resolve_function resolve, asio::io_context* external) {
        asio::io_context& io = external ? *external : own_.emplace();
        engine_ = std::make_shared<engine>(std::move(options), std::move(resolve), io.get_executor(), lookups_.get_executor());
        if (!external) {
            work_.emplace(io.get_executor());
            thread_ = std::thread([&io] { io.run(); });
        }
    }
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;
    ~runner() {
        engine_->cancel_all();
        work_.reset();
        if (thread_.joinable()) thread_.join();
        lookups_.join();
    }
    engine& get() noexcept { return *engine_; }

private:
    asio::thread_pool lookups_{1};
    std::optional<asio::io_context> own_;
    std::shared_ptr<engine> engine_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread thread_;
};

} // namespace spool::detail::smtp
