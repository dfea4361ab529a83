#pragma once

// spool::metrics: an Observer that keeps a spooler's numbers and renders them
// in the Prometheus text format or OpenMetrics, for a metrics page
// (examples/metrics_server.cpp serves one; docs/administration.md lists the
// series). Counters and histograms come from the spooler's events; the
// queue's gauges are sampled from the store, and in-flight counts from the
// spooler, when the page is made (sample()), as the node exporter samples.
//
// Label cardinality is bounded: a destination gets series of its own when it
// is named in metrics_options::destinations, or while fewer than
// max_destinations others have one; the rest share destination="other". A
// series, once given, is kept: a Prometheus counter must not go down, and
// moving a destination out of "other" later would make "other" go down.

#include <spool/administration.hpp>
#include <spool/delivery.hpp>
#include <spool/events.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/tags.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spool {

struct metrics_options {
    /// Label values for the composed transports, by position; a position without one is its number.
    std::vector<std::string> transport_names;
    /// Destinations that always get series of their own.
    std::vector<std::string> destinations;
    /// How many other destinations get series of their own, first seen first.
    std::size_t max_destinations = 32;
    /// The longest destination label value, in bytes: a longer one is cut (at
    /// a UTF-8 character's boundary) and ends in "...", so a 300-byte domain
    /// cannot make a 300-byte label. Destinations alike in their first bytes
    /// then share a series.
    std::size_t max_label_bytes = 64;
    /// Bucket bounds, in seconds, of the hand-off duration histogram.
    std::vector<double> handoff_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    /// Bucket bounds, in seconds, of the time from submit to the last recipient's final status.
    std::vector<double> delivery_buckets{1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600};
};

/// The two text formats: Prometheus's (version 0.0.4, `text/plain; version=0.0.4`)
/// and OpenMetrics 1.0 (`application/openmetrics-text; version=1.0.0`).
enum class exposition : std::uint8_t { prometheus, openmetrics };

constexpr std::string_view content_type(exposition e) noexcept {
    return e == exposition::prometheus ? "text/plain; version=0.0.4; charset=utf-8"
                                       : "application/openmetrics-text; version=1.0.0; charset=utf-8";
}

class metrics {
public:
    using spool_concept = observer_tag;

    /// Copies share their numbers: give the spooler one and keep one to render.
    explicit metrics(metrics_options options = {}) : state_(std::make_shared<state>(std::move(options))) {}

    // --- The Observer ---------------------------------------------------------
    void on_queue_changed(const queue_changed_event& e) {
        if (e.what != queue_changed_event::change::added) return;
        std::lock_guard g{state_->mutex};
        ++state_->submitted;
    }
    void on_new_mail(const new_mail_event&) {
        std::lock_guard g{state_->mutex};
        ++state_->received;
    }
    void on_handoff(const handoff_event& e) {
        std::lock_guard g{state_->mutex};
        auto& per = state_->recipients[{e.transport, state_->destination_label(e.destination)}];
        per.sent += e.sent;
        per.deferred += e.deferred;
        per.failed += e.failed;
        state_->handoff_duration[e.transport].observe(std::chrono::duration<double>(e.duration).count(), state_->options.handoff_buckets);
    }
    void on_suppression(const suppression_event& e) {
        std::lock_guard g{state_->mutex};
        ++state_->suppression[e.what == suppression_event::change::listed ? 0 : 1];
    }
    void on_message_finished(const message_finished_event& e) {
        std::lock_guard g{state_->mutex};
        ++state_->finished[e.failed == 0 ? 0 : e.sent == 0 ? 1 : 2];
        if (e.submitted && e.at >= *e.submitted)
            state_->delivery_delay.observe(std::chrono::duration<double>(e.at - *e.submitted).count(), state_->options.delivery_buckets);
    }

    // --- Sampled gauges -------------------------------------------------------

    /// The queue's length by state and its oldest message's age, from the store.
    template <AdministeredStore Store>
    void sample_queue(const Store& store, time_point now) {
        const queue_counts counts = store.count_queue(now);
        const auto first = store.list_queue({}, now, message_id{}, 1); // the lowest id: the first submitted still queued
        std::lock_guard g{state_->mutex};
        state_->queue = counts;
        state_->oldest = first.empty() ? 0.0 : std::max(0.0, std::chrono::duration<double>(now - first.front().submit_time).count());
    }
    /// The suppression list's length, from the store (one count).
    template <SuppressionListStore Store>
    void sample_suppression_list(const Store& store, time_point now) {
        const auto n = store.count_suppressions(now);
        std::lock_guard g{state_->mutex};
        state_->suppression_entries = n ? static_cast<double>(*n) : -1.0;
    }
    /// In-flight hand-offs and destinations down, from a spooler's destinations().
    void sample_destinations(const std::vector<destination_health>& destinations) {
        std::lock_guard g{state_->mutex};
        state_->in_flight.clear();
        state_->down.clear();
        for (const destination_health& d : destinations) {
            const key k{d.transport, state_->destination_label(d.destination)};
            state_->in_flight[k] += static_cast<double>(d.in_flight);
            if (d.what != destination_health::state::up) state_->down[k] += 1;
        }
    }

    // --- The page ---------------------------------------------------------------

    std::string render(exposition format = exposition::prometheus) const {
        std::lock_guard g{state_->mutex};
        return state_->render(format);
    }

private:
    struct key {
        std::size_t transport = 0;
        std::string destination;
        friend auto operator<=>(const key&, const key&) = default;
    };
    struct outcomes {
        double sent = 0, deferred = 0, failed = 0;
    };
    struct histogram {
        std::vector<double> counts; // per bucket, not cumulative; the last is +Inf
        double sum = 0;
        double count = 0;
        void observe(double v, const std::vector<double>& bounds) {
            counts.resize(bounds.size() + 1);
            const auto i = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
            ++counts[i];
            sum += v;
            ++count;
        }
    };

    class page {
    public:
        explicit page(exposition f) : format_(f) {}
        void family(std::string_view name, std::string_view type, std::string_view help) {
            const bool counter = type == "counter";
            const std::string shown = std::string(name) + (counter && format_ == exposition::prometheus ? "_total" : "");
            if (format_ == exposition::openmetrics) text_ += "# TYPE " + shown + " " + std::string(type) + "\n# HELP " + shown + " " + std::string(help) + "\n";
            else text_ += "# HELP " + shown + " " + std::string(help) + "\n# TYPE " + shown + " " + std::string(type) + "\n";
        }
        void sample(std::string_view name, const std::vector<std::pair<std::string_view, std::string>>& labels, double value) {
            text_ += name;
            if (!labels.empty()) {
                text_ += '{';
                for (std::size_t i = 0; i < labels.size(); ++i) {
                    if (i) text_ += ',';
                    text_ += labels[i].first;
                    text_ += "=\"";
                    escape(labels[i].second);
                    text_ += '"';
                }
                text_ += '}';
            }
            text_ += ' ';
            number(value);
            text_ += '\n';
        }
        void histogram_samples(std::string_view name, std::vector<std::pair<std::string_view, std::string>> labels,
                               const histogram& h, const std::vector<double>& bounds) {
            double cumulative = 0;
            labels.emplace_back("le", "");
            for (std::size_t i = 0; i <= bounds.size(); ++i) {
                cumulative += i < h.counts.size() ? h.counts[i] : 0;
                labels.back().second = i < bounds.size() ? bound(bounds[i]) : "+Inf";
                sample(std::string(name) + "_bucket", labels, cumulative);
            }
            labels.pop_back();
            sample(std::string(name) + "_sum", labels, h.sum);
            sample(std::string(name) + "_count", labels, h.count);
        }
        std::string finish() {
            if (format_ == exposition::openmetrics) text_ += "# EOF\n";
            return std::move(text_);
        }

    private:
        void escape(std::string_view v) {
            for (char c : v) {
                if (c == '\\') text_ += "\\\\";
                else if (c == '"') text_ += "\\\"";
                else if (c == '\n') text_ += "\\n";
                else text_ += c;
            }
        }
        void number(double v) {
            if (std::isinf(v)) {
                text_ += v > 0 ? "+Inf" : "-Inf";
                return;
            }
            char buf[64];
            const auto r = std::to_chars(buf, buf + sizeof buf, v);
            text_.append(buf, r.ptr);
        }
        // A bucket bound as OpenMetrics wants it: a float, "1.0" rather than "1".
        static std::string bound(double v) {
            char buf[64];
            const auto r = std::to_chars(buf, buf + sizeof buf, v);
            std::string s(buf, r.ptr);
            if (s.find_first_of(".e") == std::string::npos) s += ".0";
            return s;
        }
        exposition format_;
        std::string text_;
    };

    struct state {
        explicit state(metrics_options o) : options(std::move(o)) {
            for (const std::string& d : options.destinations) named.insert(capped(d));
        }

        std::string destination_label(const std::string& destination) {
            std::string d = capped(destination);
            if (named.contains(d) || admitted.contains(d)) return d;
            if (admitted.size() < options.max_destinations) {
                admitted.insert(d);
                return d;
            }
            return "other";
        }
        std::string capped(const std::string& value) const {
            const std::size_t max = std::max<std::size_t>(options.max_label_bytes, 4);
            if (value.size() <= max) return value;
            std::size_t end = max - 3;
            while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end; // not inside a character
            return value.substr(0, end) + "...";
        }
        std::string transport_label(std::size_t t) const {
            return t < options.transport_names.size() ? options.transport_names[t] : std::to_string(t);
        }

        std::string render(exposition format) const {
            page p(format);
            p.family("spool_messages_submitted", "counter", "Messages submitted to the outgoing queue.");
            p.sample("spool_messages_submitted_total", {}, submitted);
            p.family("spool_suppression_listed", "counter", "Addresses a permanent failure put on the suppression list.");
            p.sample("spool_suppression_listed_total", {}, suppression[0]);
            p.family("spool_recipients_suppressed", "counter", "Recipients failed at submit because their address is on the suppression list.");
            p.sample("spool_recipients_suppressed_total", {}, suppression[1]);
            if (suppression_entries >= 0) {
                p.family("spool_suppression_entries", "gauge", "Entries on the suppression list, as last sampled.");
                p.sample("spool_suppression_entries", {}, suppression_entries);
            }
            p.family("spool_messages_received", "counter", "Incoming messages committed to a receive folder.");
            p.sample("spool_messages_received_total", {}, received);
            p.family("spool_messages_finished", "counter",
                     "Messages whose every recipient is settled, by outcome: sent to all, failed for all, or partly.");
            static constexpr const char* outcome_names[] = {"sent", "failed", "partial"};
            for (std::size_t i = 0; i < 3; ++i) p.sample("spool_messages_finished_total", {{"outcome", outcome_names[i]}}, finished[i]);
            p.family("spool_recipients", "counter", "Recipients each hand-off settled or deferred, by transport, destination and outcome.");
            for (const auto& [k, o] : recipients)
                for (const auto& [name, value] : {std::pair{"sent", o.sent}, {"deferred", o.deferred}, {"failed", o.failed}})
                    p.sample("spool_recipients_total",
                             {{"transport", transport_label(k.transport)}, {"destination", k.destination}, {"outcome", name}}, value);
            p.family("spool_handoff_duration_seconds", "histogram", "How long hand-offs to each transport took.");
            for (const auto& [t, h] : handoff_duration)
                p.histogram_samples("spool_handoff_duration_seconds", {{"transport", transport_label(t)}}, h, options.handoff_buckets);
            p.family("spool_delivery_delay_seconds", "histogram", "Time from a message's submit to its last recipient's final status.");
            p.histogram_samples("spool_delivery_delay_seconds", {}, delivery_delay, options.delivery_buckets);
            p.family("spool_queue_messages", "gauge", "Queued messages by state, when last sampled.");
            for (const auto& [name, value] : {std::pair{"due", queue.due}, {"deferred", queue.deferred}, {"waiting", queue.waiting},
                                              {"held", queue.held}, {"in_hand", queue.in_hand}})
                p.sample("spool_queue_messages", {{"state", name}}, static_cast<double>(value));
            p.family("spool_queue_oldest_message_age_seconds", "gauge", "Age of the oldest queued message, when last sampled.");
            p.sample("spool_queue_oldest_message_age_seconds", {}, oldest);
            p.family("spool_handoffs_in_flight", "gauge", "Hand-offs in flight by transport and destination, when last sampled.");
            for (const auto& [k, n] : in_flight)
                p.sample("spool_handoffs_in_flight", {{"transport", transport_label(k.transport)}, {"destination", k.destination}}, n);
            p.family("spool_destinations_down", "gauge", "Destinations marked down or being probed, when last sampled.");
            for (const auto& [k, n] : down)
                p.sample("spool_destinations_down", {{"transport", transport_label(k.transport)}, {"destination", k.destination}}, n);
            return p.finish();
        }

        std::mutex mutex;
        metrics_options options;
        std::set<std::string, std::less<>> named, admitted;
        double submitted = 0, received = 0;
        double suppression[2] = {0, 0};      // addresses listed; recipients refused at submit
        double suppression_entries = -1.0;   // sampled; -1: never sampled (or the count failed), not shown
        double finished[3] = {};
        std::map<key, outcomes> recipients;
        std::map<std::size_t, histogram> handoff_duration;
        histogram delivery_delay;
        queue_counts queue;
        double oldest = 0;
        std::map<key, double> in_flight, down;
    };

    std::shared_ptr<state> state_;
};

} // namespace spool
