#pragma once

// A report mailed back about a message this spool sent, applied to the
// original (docs/returned-reports.md): a delivery turns a relayed recipient
// into a delivered one; a failure fails it with the remote diagnostic, feeds
// the suppression list and makes a non-delivery report unless suppressed.
// Applied at most once per recipient: a recipient already failed or
// delivered is left as it is, so the same report received twice changes
// nothing the second time.

#include <spool/detail/one_commit.hpp>
#include <spool/detail/reports.hpp>
#include <spool/error.hpp>
#include <spool/events.hpp>
#include <spool/message.hpp>
#include <spool/returned_report.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/suppression.hpp>

#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::detail {

/// What applying a returned report did.
struct returned_outcome {
    bool applied = false;      // the original was found and could be changed
    std::size_t changed = 0;   // recipients whose status it changed
    std::error_code error;     // of the store's writes: nothing of it was recorded
};

// The failure a returned report records: the remote server's words, and who said them.
inline status::failed returned_failure(const returned_recipient& r, std::string_view reporting_mta) {
    std::string reason = r.diagnostic.empty() ? "returned as failed" : r.diagnostic;
    if (!reporting_mta.empty()) reason += " (reported by " + std::string(reporting_mta) + ")";
    return {std::move(reason), r.status};
}

// Whether the original, not in a hand-off, can be changed here: not queued,
// or queued in this process only. On a queue shared by processes
// another process may claim it and write its own copy over this change, so
// only the suppression list is fed then.
template <class Store, class Message>
bool may_change(const Store& store, const Message& original) {
    if (!original.submitted()) return true;
    if constexpr (requires { { store.shares_queue() } -> std::convertible_to<bool>; }) return !store.shares_queue();
    else return !SharedQueueStore<Store>;
}

/// Applies `report` to its original, committing a non-delivery report through
/// `commit_report` (the incoming flow's commit, which gives what `announce`
/// tells observers once everything is written). Where the original cannot be
/// changed here, only the suppression list is fed, for its recipients; where
/// it is gone, for every address the report says failed.
template <class Core, class CommitReport, class Announce>
returned_outcome apply_returned(Core& core, const returned_report& report, time_point now, CommitReport&& commit_report,
                                Announce&& announce) {
    using message_type = typename Core::message_type;
    returned_outcome out;
    const message_id id = report.original;

    auto& queue = core.queue();
    bool locked = false;
    {
        auto g = queue.guard();
        locked = queue.try_lock(id); // false: a hand-off runs; its outcome is the newer truth
    }
    struct unlock_at_end {
        Core& core;
        message_id id;
        bool locked;
        ~unlock_at_end() {
            if (!locked) return;
            auto g = core.queue().guard();
            core.queue().unlock(id);
        }
    } unlock{core, id, locked};

    result<message_type> loaded = core.store().load(id); // read even while a hand-off has it: to know its recipients
    if (!loaded && loaded.error() != errc::not_found) { // unreadable now: nothing is decided on a guess
        out.error = loaded.error();
        return out;
    }
    const bool changeable = locked && loaded && may_change(core.store(), *loaded);

    std::vector<suppression_entry> listed;
    std::vector<std::size_t> changed;
    std::vector<report_entry> failed_entries;
    auto list = [&](const std::string& address, const returned_recipient& r) {
        if constexpr (Core::suppresses) {
            const suppression_policy& policy = core.suppression();
            if (!policy.suppresses(r.status)) return;
            std::string key = suppression_key(address, policy.fold_local_part);
            const auto found = core.store().find_suppression(key, now);
            if (!found || *found) return;
            std::optional<time_point> expires;
            if (policy.lifetime) expires = now + *policy.lifetime;
            listed.push_back({std::move(key), returned_failure(r, report.reporting_mta).reason, r.status, now, expires, id});
        }
    };

    message_type* m = changeable ? &*loaded : nullptr;
    if (loaded) {
        // Only the original's own recipients count, whether or not it can be changed here.
        out.applied = changeable;
        for (const auto& [i, r] : recipients_of(report, *loaded)) {
            recipient& x = loaded->recipients[i];
            const auto* sent = std::get_if<status::sent>(&x.status);
            if (!sent) continue; // failed already, or not handed off yet: the spool's own outcome stands
            if (r->action == dsn_action::failed) list(x.address, *r);
            if (!m) continue;
            if (r->action == dsn_action::delivered && sent->action != delivery_action::delivered) {
                x.status = status::sent{sent->at, delivery_action::delivered};
                changed.push_back(i);
            } else if (r->action == dsn_action::failed) {
                x.status = returned_failure(*r, report.reporting_mta);
                changed.push_back(i);
                const report_requests& asked = x.reports.value_or(m->reports);
                if (!asked.non_delivery_suppressed) failed_entries.push_back(entry_for(x));
                x.reported = true;
            }
        }
    } else {
        for (const returned_recipient& r : report.recipients)
            if (r.action == dsn_action::failed) list(r.address, r);
    }
    if (changed.empty() && listed.empty()) return out;

    std::vector<message_type> reports;
    if (!failed_entries.empty()) reports.push_back(make_report(*m, report_kind::non_delivery, std::move(failed_entries), now));
    std::vector<std::remove_cvref_t<std::invoke_result_t<CommitReport&, message_type&>>> committed;
    auto write = [&]() -> std::error_code {
        committed.clear();
        for (message_type& r : reports) {
            auto c = commit_report(r);
            if (c.error) return c.error;
            committed.push_back(std::move(c));
        }
        if constexpr (Core::suppresses)
            for (const suppression_entry& e : listed)
                if (auto ec = core.store().suppress(e)) return ec;
        return m && !changed.empty() ? core.store().save(id, *m) : std::error_code{};
    };
    // A write refused inside the batch abandons the batch: a store that
    // batches then rolls all of it back, the non-delivery report too.
    struct abandoned {
        std::error_code ec;
    };
    std::error_code ec;
    try {
        ec = in_one_commit(core.store(), [&] {
            if (const std::error_code refused = write()) throw abandoned{refused};
        });
    } catch (const abandoned& a) {
        ec = a.ec;
    }
    if (ec) { // the caller counts it, as any refused incoming commit
        out.error = ec;
        return out;
    }
    out.changed = changed.size();
    if constexpr (Core::template observed<recipient_status_event>)
        for (std::size_t i : changed) core.notify(recipient_status_event{id, m->recipients[i]});
    for (const suppression_entry& e : listed) core.notify(suppression_event{id, e.address, suppression_event::change::listed});
    core.counts().reports_generated.fetch_add(reports.size());
    for (const auto& c : committed) announce(c);
    return out;
}

} // namespace spool::detail
