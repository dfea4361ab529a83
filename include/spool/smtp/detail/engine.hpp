#pragma once

// The SMTP transport's machinery: hand-offs as coroutines on one io_context,
// run by one thread, each with a cancellation slot (spooler.stop()),
// idle connections kept per destination for the next message, and next hops
// from the relay or the resolver (on a pool of lookup threads, as res_nquery
// blocks).

#include <spool/smtp/detail/session.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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

    /// Runs the job as a coroutine on the I/O context, with a cancellation
    /// slot that cancel_all() signals, and then `finished(job)` there. The
    /// context is run by one thread: no strand is needed, and none is paid
    /// for (a strand per hand-off cost about 10% of the wire's rate, since
    /// every resumption went through it).
    template <class F>
    void start(std::unique_ptr<job> j, F finished) {
        auto h = std::make_shared<handoff>();
        {
            std::lock_guard lock{mutex_};
            in_flight_.insert(h);
        }
        asio::dispatch(io_, [self = shared_from_this(), h, j = std::move(j), finished = std::move(finished)]() mutable {
            asio::co_spawn(self->io_, run(self, std::move(j), std::move(finished)),
                           asio::bind_cancellation_slot(h->cancel.slot(), [self, h](std::exception_ptr) {
                               // No cancellation after this; the signal itself
                               // goes once the coroutine has unwound, later.
                               h->done = true;
                               asio::post(self->io_, [self, h] {
                                   std::lock_guard lock{self->mutex_};
                                   self->in_flight_.erase(h);
                               });
                           }));
            // cancel_all() came between the insertion above and this.
            if (h->cancelled) h->cancel.emit(asio::cancellation_type::terminal);
        });
    }

    /// Cancels every hand-off in flight (each completes as cancelled, at its
    /// next step or at once from a pending read, write, connect or lookup)
    /// and closes the idle connections.
    void cancel_all() {
        std::lock_guard lock{mutex_};
        for (const auto& h : in_flight_)
            asio::post(io_, [h] {
                h->cancelled = true;
                if (!h->done) h->cancel.emit(asio::cancellation_type::terminal);
            });
        for (auto& [destination, list] : idle_)
            for (auto& c : list) asio::post(io_, [c] { c->close(); });
        idle_.clear();
    }

private:
    // A hand-off in flight, and how to cancel it. A signal must be emitted
    // where its operations run: each field is touched on the I/O thread only.
    struct handoff {
        asio::cancellation_signal cancel;
        bool cancelled = false;
        bool done = false;
    };

    template <class F>
    static asio::awaitable<void> run(std::shared_ptr<engine> self, std::unique_ptr<job> j, F finished) {
        co_await self->deliver(*j);
        finished(*j);
    }

    // Next hops, then the hosts in turn. Once cancelled, the next co_await
    // throws operation_aborted: whatever it was doing, the job ends cancelled.
    asio::awaitable<void> deliver(job& j) {
        try {
            std::vector<smtp_host> hosts;
            if (co_await next_hops(j, hosts)) co_await send(j, hosts);
        } catch (const site_error& e) {
            j.fail(job::end::site_failure, e.what(), e.code);
        } catch (const boost::system::system_error& e) {
            if (e.code() != asio::error::operation_aborted) j.fail(job::end::site_failure, e.what(), "4.4.1");
        }
        // Cut short by stop(): neither the destination's fault nor the message's.
        if (cancelled(co_await asio::this_coro::cancellation_state) && j.result != job::end::message_failed)
            j.result = job::end::cancelled;
        if (j.result == job::end::done) j.settle_rest(outcome::kind::deferred, "not attempted", "4.0.0");
    }

    // The relay, or the resolver's answer for the job's domain; false when
    // that answer settled the job (null MX, no such domain, a failed lookup).
    asio::awaitable<bool> next_hops(job& j, std::vector<smtp_host>& hosts) {
        if (options_.relay) {
            hosts.push_back(smtp_host{options_.relay->host, options_.relay->port, {}});
            co_return true;
        }
        smtp_route route = co_await lookup(j.domain);
        switch (route.what) {
        case smtp_route::kind::hosts: hosts = std::move(route.hosts); co_return true;
        case smtp_route::kind::null_mx: j.settle_rest(outcome::kind::failed, route.error, "5.1.10"); break;
        case smtp_route::kind::no_such_domain: j.settle_rest(outcome::kind::failed, route.error, "5.1.2"); break;
        case smtp_route::kind::lookup_failed: j.fail(job::end::site_failure, route.error, "4.4.3"); break;
        }
        co_return false;
    }

    // The resolver runs on the lookup threads, since it may block (res_nquery
    // does); lookups for different domains run side by side. A cancelled
    // hand-off does not wait for its lookup: it completes at once, and the
    // answer, when it comes, is dropped.
    asio::awaitable<smtp_route> lookup(std::string domain) {
        // A named initiation that captures only `this` (the runner joins the
        // lookup threads before the engine goes): g++ 12 destroys a lambda
        // temporary with non-trivial captures twice inside a co_await.
        auto initiation = [self = this](auto handler, std::string domain) {
            using handler_type = decltype(handler);
            struct pending {
                std::mutex mutex;
                std::optional<handler_type> handler;
                std::optional<asio::executor_work_guard<asio::any_io_executor>> work; ///< on the io_context itself
                // The first of the answer and the cancellation completes
                // it, posted (never inline: a cancellation handler must
                // not clear its own slot). The lookup thread touches only
                // the io_context's executor; the handler's own is read on
                // the I/O thread (a shared, counted one would otherwise be
                // released on two threads).
                void complete(boost::system::error_code ec, smtp_route r) {
                    std::unique_lock lock{mutex};
                    if (!handler) return;
                    auto h = std::move(*handler);
                    auto w = std::move(*work);
                    handler.reset();
                    work.reset();
                    lock.unlock();
                    const auto io = w.get_executor();
                    asio::post(io, [h = std::move(h), w = std::move(w), ec, r = std::move(r)]() mutable {
                        const auto ex = asio::get_associated_executor(h);
                        asio::dispatch(ex, [h = std::move(h), ec, r = std::move(r)]() mutable {
                            asio::get_associated_cancellation_slot(h).clear();
                            std::move(h)(ec, std::move(r));
                        });
                    });
                }
            };
            auto p = std::make_shared<pending>();
            p->work.emplace(asio::make_work_guard(self->io_));
            auto slot = asio::get_associated_cancellation_slot(handler);
            p->handler.emplace(std::move(handler));
            if (slot.is_connected())
                slot.assign([p](asio::cancellation_type) { p->complete(asio::error::operation_aborted, {}); });
            asio::post(self->lookups_, [self, p, domain = std::move(domain)] { p->complete({}, self->resolve_(domain)); });
        };
        co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(boost::system::error_code, smtp_route)>(
            std::move(initiation), asio::use_awaitable, std::move(domain));
    }

    // The job to `hosts`, in order. Recipients one host deferred on its own
    // (a 4xx to RCPT, or the connection lost before their data was taken) go
    // to the next host, as Postfix sends them; on the last host, the
    // deferral stands.
    asio::awaitable<void> send(job& j, const std::vector<smtp_host>& hosts) {
        std::vector<std::size_t> todo(j.recipients.size());
        for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
        std::shared_ptr<connection> c = take_idle(j.destination);
        for (std::size_t first = 0;;) {
            hop_end hop = co_await send_batches(j, hosts, first, todo, c);
            if (hop.elsewhere.empty() || j.result != job::end::done) break;
            if (c && c->open()) keep(j.destination, std::move(c));
            c.reset();
            todo = std::move(hop.elsewhere);
            for (std::size_t i : todo) j.recipients[i].result.elsewhere = false;
            first = hop.last_host + 1;
        }
        if (c && c->open() && !cancelled(co_await asio::this_coro::cancellation_state)) keep(j.destination, std::move(c));
    }

    // What a pass over the hosts from `first` left for the next host.
    struct hop_end {
        std::vector<std::size_t> elsewhere{};
        std::size_t last_host = 0;
    };

    // `todo`'s recipients in transactions of at most max_recipients, on `c`
    // (a connection from the pool, or none yet) or on a session with the
    // first host from `first` that gives one.
    asio::awaitable<hop_end> send_batches(job& j, const std::vector<smtp_host>& hosts, std::size_t first,
                                          std::vector<std::size_t>& todo, std::shared_ptr<connection>& c) {
        hop_end hop;
        hop.last_host = first;
        const auto more_hosts = [&](std::size_t host) { return !options_.relay && host + 1 < hosts.size(); };
        bool reused = c != nullptr;
        while (!todo.empty()) {
            if (!c) {
                session::opening o = co_await session::open(hosts, settings_, first);
                if (!o.c) {
                    // After the first host, its deferrals stand: the destination did answer.
                    if (first == 0) j.fail(job::end::site_failure, std::move(o.error), std::move(o.code));
                    co_return hop;
                }
                c = std::move(o.c);
                reused = false;
            }
            const std::size_t host = hop.last_host = c->host_index;
            if (!session::acceptable(j, *c)) co_return hop;
            const std::size_t n = std::min(todo.size(), std::max<std::size_t>(options_.max_recipients, 1));
            const std::vector<std::size_t> batch(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(n));
            todo.erase(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(n));
            session::transaction t = co_await session::transact(*c, j, batch, options_);
            if (t.broken) {
                c.reset();
                const stream_error& e = *t.broken;
                if (reused && !t.answered) {
                    // An idle connection the server had given up on: nothing
                    // was accepted on it, so a new one may try the same batch.
                    todo.insert(todo.begin(), batch.begin(), batch.end());
                    continue;
                }
                if (more_hosts(host)) {
                    const auto move_on = [&](std::size_t i) {
                        if (j.recipients[i].result.what != outcome::kind::none) return;
                        j.recipients[i].result = {outcome::kind::deferred, e.what(), e.code};
                        hop.elsewhere.push_back(i);
                    };
                    std::ranges::for_each(batch, move_on);
                    std::ranges::for_each(todo, move_on);
                    todo.clear();
                    co_return hop;
                }
                j.settle_rest(outcome::kind::deferred, e.what(), e.code);
                co_return hop;
            }
            // Overflow goes in the next transaction while each takes some; a
            // transaction that took none keeps the server's own refusal.
            if (t.overflow.size() < batch.size()) {
                std::vector<std::size_t> next;
                for (const auto& o : t.overflow) next.push_back(o.recipient);
                todo.insert(todo.begin(), next.begin(), next.end());
            } else {
                for (const auto& o : t.overflow) j.recipients[o.recipient].result = refused_by(o.why);
            }
            if (more_hosts(host))
                for (std::size_t i : batch)
                    if (j.recipients[i].result.elsewhere) hop.elsewhere.push_back(i);
            if (!t.reusable) c.reset();
        }
        co_return hop;
    }

    // Whether this hand-off was cancelled. Reading the state is not an
    // operation, so it does not throw as a co_await of one does once cancelled.
    static bool cancelled(const asio::cancellation_state& state) { return state.cancelled() != asio::cancellation_type::none; }

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
    std::set<std::shared_ptr<handoff>> in_flight_;
    std::map<std::string, std::vector<std::shared_ptr<connection>>, std::less<>> idle_;
};

/// The threads behind a transport: its own io_context and thread (unless the
/// user gave one) and smtp_options::lookup_threads for resolver lookups.
/// Destroying it cancels what is in flight and joins them.
class runner {
public:
    runner(smtp_options options, engine::resolve_function resolve, asio::io_context* external)
        : lookups_(std::max<std::size_t>(options.lookup_threads, 1)) {
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
        // A lookup in progress is waited for: a blocking resolver cannot be
        // interrupted (res_nquery's own time limit bounds it).
        lookups_.join();
    }
    engine& get() noexcept { return *engine_; }

private:
    asio::thread_pool lookups_;
    std::optional<asio::io_context> own_;
    std::shared_ptr<engine> engine_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread thread_;
};

} // namespace spool::detail::smtp
