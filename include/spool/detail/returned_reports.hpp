#pragma once

// A report mailed back about a message this spool sent, applied to the
// original (docs/returned-reports.md): a delivery turns a relayed recipient
// into a delivered one; a failure fails it with the remote diagnostic, feeds
// the suppression list and makes a non-delivery report unless suppressed.
// Applied at most once per recipient: a recipient already failed or
// delivered is left as it is, so the same report received twice changes
// nothing the second time. An original in a hand-off, here or in another
// process sharing the queue, is not changed under it: the report is kept
// (ReportBacklogStore) and applied by a later pass (apply_kept_returned).

#include <spool/detail/one_commit.hpp>
#include <spool/detail/reports.hpp>
#include <spool/detail/suppression_entries.hpp>
#include <spool/error.hpp>
#include <spool/events.hpp>
#include <spool/message.hpp>
#include <spool/returned_report.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/suppression.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::detail {

// The failure a returned report records: the remote server's words, and who said them.
inline status::failed returned_failure(const returned_recipient& r, std::string_view reporting_mta) {
    std::string reason = r.diagnostic.empty() ? "returned as failed" : r.diagnostic;
    if (!reporting_mta.empty()) reason += " (reported by " + std::string(reporting_mta) + ")";
    return {std::move(reason), r.status};
}

template <class Store>
bool shares_queue_of(const Store& store) {
    if constexpr (requires { { store.shares_queue() } -> std::convertible_to<bool>; }) return store.shares_queue();
    else return SharedQueueStore<Store>;
}

// The original, held against every other writer while a report changes it:
// the in-process lock, which a hand-off running here holds; on a queue shared
// by processes, the store's claim too (MessageClaimStore), taken before the
// message is read, so that no other process's copy overwrites the change or
// is overwritten by it. Let go in the reverse order.
template <class Core>
class original_hold {
public:
    original_hold(Core& core, message_id id) : core_(core), id_(id) {
        auto g = core_.queue().guard();
        locked_ = core_.queue().try_lock(id_); // false: a hand-off runs here
    }
    original_hold(const original_hold&) = delete;
    original_hold& operator=(const original_hold&) = delete;
    ~original_hold() {
        // A release that fails leaves a lease that expires by itself.
        if constexpr (MessageClaimStore<typename Core::store_type>)
            if (claimed_) (void)core_.store().release_claim(id_);
        if (!locked_) return;
        auto g = core_.queue().guard();
        core_.queue().unlock(id_);
    }

    /// Takes the claim where the store shares its queue; an error of the store's when it cannot say.
    std::error_code claim() {
        if constexpr (MessageClaimStore<typename Core::store_type>) {
            if (!locked_ || !shares_queue_of(core_.store())) return {};
            const result<bool> c = core_.store().claim(id_);
            if (c) {
                claimed_ = *c;
                leased_elsewhere_ = !*c;
            } else if (c.error() != errc::not_in_queue && c.error() != errc::not_found) {
                return c.error();
            }
        }
        return {};
    }

    /// Whether `loaded` may be changed and written now: no hand-off has it,
    /// here or in another process.
    template <class Message>
    bool allows_change(const Message& loaded) const {
        if (!locked_ || leased_elsewhere_) return false;
        return claimed_ || !loaded.submitted() || !shares_queue_of(core_.store());
    }

private:
    Core& core_;
    message_id id_;
    bool locked_ = false;
    bool claimed_ = false;
    bool leased_elsewhere_ = false;
};

/// What became of a returned report that was not refused.
enum class returned_fate {
    applied, ///< to its original, or, gone, to the suppression list
    busy,    ///< its original is in a hand-off: only the suppression list was fed
};

/// Applies `report` to its original, committing a non-delivery report through
/// `commit_report` (the incoming flow's commit, which gives what `announce`
/// tells observers once everything is written). While the original is in a
/// hand-off only the suppression list is fed, for its recipients; a report
/// that came now is then kept for a later pass where the store keeps a
/// backlog, and one taken from the backlog (`kept`: its key) stays there.
/// Applied, a kept report is forgotten in the same commit. Where the original
/// is gone, the list is fed for every address the report says failed.
/// An error of the store's: nothing of it was recorded.
template <class Core, class CommitReport, class Announce>
result<returned_fate> apply_returned(Core& core, const returned_report& report, std::optional<std::int64_t> kept,
                                     time_point now, CommitReport&& commit_report, Announce&& announce) {
    using message_type = typename Core::message_type;
    const message_id id = report.original;

    original_hold<Core> hold(core, id);
    if (auto ec = hold.claim()) return ec;
    result<message_type> loaded = core.store().load(id); // read even while a hand-off has it: to know its recipients
    if (!loaded && loaded.error() != errc::not_found) return loaded.error(); // unreadable now: nothing is decided on a guess
    const bool busy = loaded && !hold.allows_change(*loaded);

    std::vector<suppression_entry> listed;
    std::vector<std::size_t> changed;
    std::vector<report_entry> failed_entries;
    auto list = [&](const std::string& address, const returned_recipient& r) {
        if constexpr (Core::suppresses)
            if (auto entry = suppression_entry_for(core, address, returned_failure(r, report.reporting_mta), id, now))
                listed.push_back(std::move(*entry));
    };

    message_type* m = loaded && !busy ? &*loaded : nullptr;
    if (loaded) {
        // Only the original's own recipients count, whether or not it can be changed here.
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
    constexpr bool backlog = ReportBacklogStore<typename Core::store_type>;
    const bool keep = backlog && busy && !kept, forget = backlog && !busy && kept;
    const returned_fate fate = busy ? returned_fate::busy : returned_fate::applied;
    if (changed.empty() && listed.empty() && !keep && !forget) return fate;

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
        if constexpr (backlog) {
            if (keep)
                if (auto ec = core.store().keep_returned(report)) return ec;
            if (forget)
                if (auto ec = core.store().forget_returned(*kept)) return ec;
        }
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
    if (ec) return ec; // the caller counts it, as any refused incoming commit
    if constexpr (Core::template observed<recipient_status_event>)
        for (std::size_t i : changed) core.notify(recipient_status_event{id, m->recipients[i]});
    for (const suppression_entry& e : listed) core.notify(suppression_event{id, e.address, suppression_event::change::listed});
    core.counts().reports_generated.fetch_add(reports.size());
    for (const auto& c : committed) announce(c);
    if (keep) core.note_returned_kept();
    return fate;
}

} // namespace spool::detail
