#pragma once

// A client's submit (MAPI IMessage::SubmitMessage with the store's part of
// ExpandRecips): validate, expand and de-duplicate recipients, stamp, decide on
// preprocessing, let a tightly coupled store handle what it can, queue, wake.

#include <spool/detail/completion.hpp>
#include <spool/detail/handoff_result.hpp>
#include <spool/detail/one_commit.hpp>
#include <spool/detail/recipient_state.hpp>
#include <spool/detail/routing.hpp>
#include <spool/detail/transport_table.hpp>
#include <spool/detail/requirements.hpp>
#include <spool/concepts.hpp>
#include <spool/mail/detail/header_section.hpp>
#include <spool/mail/detail/text.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/suppression.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <span>
#include <set>
#include <string>
#include <unordered_map>
#include <system_error>
#include <utility>
#include <vector>

namespace spool::detail {

inline std::string recipient_key(const recipient& r) {
    std::string key = r.address_type;
    key += '\0';
    for (char c : r.address) key += fold_case(c);
    return key;
}

inline bool same_recipient(const recipient& a, const recipient& b) {
    return same_address(a.address, b.address) && a.address_type == b.address_type;
}

/// The recipient table with lists replaced by their members (nested lists
/// too, each list once), each member keeping the kind of the row it came
/// from; nullopt when no recipient is a list.
template <class Expand>
std::optional<std::vector<recipient>> flattened(const std::vector<recipient>& given, Expand&& expand) {
    std::size_t first_list = 0;
    while (first_list < given.size() && !expand(given[first_list])) ++first_list;
    if (first_list == given.size()) return std::nullopt;

    std::vector<recipient> flat(given.begin(), given.begin() + static_cast<std::ptrdiff_t>(first_list));
    std::set<std::string> lists_seen;
    auto walk = [&](auto& self, const recipient& r, recipient_kind kind) -> void {
        if (auto members = expand(r)) {
            if (!lists_seen.insert(recipient_key(r)).second) return; // a list that contains itself
            for (const recipient& m : *members) self(self, m, kind);
            return;
        }
        flat.push_back(r);
        flat.back().kind = kind;
    };
    for (std::size_t i = first_list; i < given.size(); ++i) walk(walk, given[i], given[i].kind);
    return flat;
}

/// The table with duplicates merged (see without_duplicates), or nullopt.
/// Off the usual path, so it simply hashes every row's address. A template
/// (on the table's type) so that only a program that submits instantiates
/// the hash table, not every includer of the umbrella.
template <class Recipients>
[[gnu::noinline]] std::optional<Recipients> merged_duplicates(const Recipients& rs) {
    std::vector<std::size_t> first(rs.size()); // where each row's address first occurs
    std::unordered_map<std::string, std::size_t> position;
    bool duplicates = false;
    for (std::size_t i = 0; i < rs.size(); ++i) {
        first[i] = position.try_emplace(recipient_key(rs[i]), i).first->second;
        duplicates = duplicates || first[i] != i;
    }
    if (!duplicates) return std::nullopt;

    Recipients unique;
    std::vector<std::size_t> row(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) {
        if (first[i] == i) {
            row[i] = unique.size();
            unique.push_back(rs[i]);
        } else {
            recipient& kept = unique[row[first[i]]];
            kept.kind = std::min(kept.kind, rs[i].kind);
        }
    }
    return unique;
}

/// One row per address, a duplicate keeping the most visible kind (to before
/// cc before bcc) so that nobody is transmitted twice or hidden; nullopt when
/// there is no duplicate. That is the usual case, and for a few rows it is
/// answered by comparing them pairwise, with nothing built.
template <class Recipients>
std::optional<Recipients> without_duplicates(const Recipients& rs) {
    constexpr std::size_t few = 16;
    if (rs.size() <= few) {
        for (auto i = rs.begin(); i != rs.end(); ++i)
            for (auto j = rs.begin(); j != i; ++j)
                if (same_recipient(*j, *i)) return merged_duplicates(rs);
        return std::nullopt;
    }
    return merged_duplicates(rs);
}

/// The recipient table with lists expanded through what is composed (an
/// Expander, else a store that can expand) and duplicates merged; nullopt
/// when that changes nothing.
template <class Core>
std::optional<std::vector<recipient>> expanded_recipients(Core& core, const std::vector<recipient>& given) {
    if constexpr (Core::expands) {
        if (auto flat = flattened(given, [&](const recipient& r) { return core.expand(r); })) {
            if (auto unique = without_duplicates(*flat)) return unique;
            return flat;
        }
    }
    return without_duplicates(given);
}

/// True if a composed preprocessor applies to a recipient still waiting for a transport.
template <class Core, class Message>
bool needs_preprocessing(Core& core, const Message& m) {
    bool needed = false;
    core.for_each_preprocessor(
        [&](auto&, const spool::address_types& types) { needed = needed || preprocessor_applies(types, m); });
    return needed;
}

/// The coupled store's own round at submit: one hand-off, of the recipients
/// its address types match, applied as the spooler applies any; those it
/// declines, and those of other address types, stay for the spooler. Its
/// availability is not remembered across submits.
template <class Core, class Message>
void hand_to_coupled_store(Core& core, Message& m, time_point now) {
    const spool::address_types* const types = &core.types_of(Core::policies::store_index);
    const std::span<const spool::address_types* const> steps(&types, 1);
    std::vector<route_mark> route;
    route_due(route, m, now, steps);
    std::vector<std::size_t> assigned;
    for (std::size_t i = 0; i < route.size(); ++i)
        if (route[i] == route_step(0)) assigned.push_back(i);
    if (assigned.empty()) return;
    std::vector<recipient_outcome> outcomes(assigned.size());
    transmission<Message> tx(handoff_key_maker::make(), m, {assigned.data(), assigned.size()}, {outcomes.data(), outcomes.size()}, now);
    const transmit_result result = transmit_guarded(core.store(), tx);
    transport_state state;
    if (result.what() == transmit_result::kind::retry_after) state.away(now, result);
    // A site failure defers by the retry policy: a coupled store has no destinations to mark down.
    apply_handoff_result(m, {assigned.data(), assigned.size()}, {outcomes.data(), outcomes.size()}, result,
                         {{route.data(), route.size()}, steps, 0}, {now, now + core.max_lifetime(), state.unavailable_until, std::nullopt},
                         [&](unsigned n) { return now + core.backoff(n); });
}

/// A tightly coupled store handles the recipients it can before the spooler
/// sees the message; a message it settles completely never reaches the spooler.
/// The message is queued first, so a crash in between loses nothing, and held
/// locked, so the spooler leaves it alone meanwhile.
template <class Core>
std::error_code submit_coupled(Core& core, message_id id, typename Core::message_type&& m) {
    using Message = typename Core::message_type;
    auto& store = core.store();
    auto& queue = core.queue();
    {
        auto g = queue.guard();
        queue.try_lock(id);
    }
    auto unlock = [&] {
        auto g = queue.guard();
        queue.unlock(id);
    };
    if (auto ec = store.enqueue(id, m)) {
        unlock();
        return ec;
    }

    core.notify(queue_changed_event{id, queue_changed_event::change::added});

    const time_point now = *m.client_submit_time;
    completion<Message> c(id, now, std::move(m));
    c.begin(core);
    hand_to_coupled_store(core, c.message(), now);

    // The message is accepted once it is queued. If the store cannot record
    // what the coupled transport did, the spooler finishes the job from the
    // queue (recipients it cannot see as settled are sent again: at-least-once).
    const pass_outcome outcome = complete_pass(core, c);
    unlock();
    if (!outcome.finished) core.wake();
    return {};
}

/// What submit refuses of a message that cannot be sent as it is
/// (docs/concepts/transport.md): a control character in an address
/// (errc::invalid_address) or in a header field other than a fold, a payload
/// header whose name is not a field-name (errc::invalid_header_value); then
/// any recipient a composed RecipientCheckingTransport would take and refuses.
template <class Core, class Message>
std::error_code unsendable(Core& core, const Message& m, const std::vector<recipient>& rs) {
    const auto bad_address = [](const std::string& a) { return !is_address_text(a); };
    if (bad_address(m.sender.address) || (m.report_to && bad_address(m.report_to->address)) ||
        std::ranges::any_of(rs, [&](const recipient& r) { return bad_address(r.address); }))
        return errc::invalid_address;
    if (!is_header_value(m.sender.display_name) || (m.report_to && !is_header_value(m.report_to->display_name)) ||
        std::ranges::any_of(rs, [](const recipient& r) { return !is_header_value(r.display_name); }))
        return errc::invalid_header_value;
    if constexpr (std::same_as<typename Message::payload_type, mail_payload>) {
        if (!is_header_value(m.payload.subject)) return errc::invalid_header_value;
        for (const auto& [name, value] : m.payload.headers)
            if (!is_field_name(name) || !is_header_value(value)) return errc::invalid_header_value;
        if (!m.payload.mime.empty() &&
            (!m.payload.subject.empty() || !m.payload.body.empty() || !is_mime_message(m.payload.mime)))
            return errc::invalid_mime;
    }
    std::error_code refused;
    core.for_each_transport([&](auto& t, std::size_t i) {
        if constexpr (RecipientCheckingTransport<std::remove_cvref_t<decltype(t)>>)
            for (const recipient& r : rs)
                if (!refused && core.types_of(i).matches(r.address_type)) refused = std::as_const(t).check_recipient(r);
    });
    return refused;
}

/// The suppression list's entry for each of `rs` (none where it has none), one indexed read each.
template <class Core>
result<std::vector<std::optional<suppression_entry>>> suppressed_among(Core& core, const std::vector<recipient>& rs) {
    const suppression_policy& policy = core.suppression();
    std::vector<std::optional<suppression_entry>> out;
    out.reserve(rs.size());
    const time_point now = core.now();
    for (const recipient& r : rs) {
        auto found = core.store().find_suppression(suppression_key(r.address, policy.fold_local_part), now);
        if (!found) return found.error();
        out.push_back(std::move(*found));
    }
    return out;
}

/// What a recipient on the suppression list fails with: the entry named, and its code.
inline status::failed suppressed_failure(const suppression_entry& e) {
    std::string reason = "suppressed: " + e.address + " is on the suppression list since " + rfc5322_date(e.added);
    if (!e.reason.empty()) reason += " (" + e.reason + ")";
    return {std::move(reason), is_status_code(e.diagnostic) ? e.diagnostic : "5.0.0"};
}

/// Turns the draft `m` into the message to queue: recipients expanded and
/// checked, submit time stamped, preprocessing decided. On an error `m` is
/// left exactly as it was, so it can still be stored as the user's draft.
template <class Core, class Message>
std::error_code make_submitted(Core& core, Message& m) {
    if (m.submitted()) return errc::already_submitted;
    if (m.recipients.empty()) return errc::no_recipients;
    auto expanded = expanded_recipients(core, m.recipients);
    const std::vector<recipient>& rs = expanded ? *expanded : m.recipients;
    if (rs.empty()) return errc::no_recipients;
    if (!std::all_of(rs.begin(), rs.end(), [](const recipient& r) { return r.resolved(); }))
        return errc::unresolved_recipient;
    if (auto ec = unsendable(core, m, rs)) return ec;
    // Read before anything of m changes: a read that fails leaves the draft as it was.
    std::vector<std::optional<suppression_entry>> suppressed;
    if constexpr (Core::suppresses) {
        if (!has(m.submission, submit_flags::ignore_suppression)) {
            auto found = suppressed_among(core, rs);
            if (!found) return found.error();
            suppressed = std::move(*found);
        }
    }

    if (expanded) m.recipients = std::move(*expanded);
    // A submit is a new transmission to every recipient (MAPI: a client's
    // submit sets every PR_RESPONSIBILITY to FALSE), except in a resend
    // (MSGFLAG_RESEND): recipients already recorded as sent stay settled, and
    // only the others are sent, so fixing one address of a partly sent message
    // does not send it twice to everyone else.
    const bool resend = has(m.flags, message_flags::resend);
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
        recipient& r = m.recipients[i];
        if (resend && std::holds_alternative<status::sent>(r.status)) continue;
        r.responsibility = false;
        r.status = status::pending{};
        r.reported = false;
        r.delay_reported = false;
        // On the suppression list: failed at once, reported as any failure.
        if (i < suppressed.size() && suppressed[i]) r.status = suppressed_failure(*suppressed[i]);
    }
    m.flags |= message_flags::submitted | message_flags::unsent;
    m.client_submit_time = core.now();
    if (m.message_class.empty()) m.message_class = "IPM";
    m.submission = (m.submission & submit_flags::ignore_suppression) |
                   (needs_preprocessing(core, m) ? submit_flags::preprocess : submit_flags::none);
    return {};
}

/// After the store queued `m` as `id`: tell observers (of the recipients the
/// suppression list failed too), wake the spooler. Submit leaves every
/// recipient pending or sent, except those the list failed, so a failed one
/// here is one of them.
template <class Core, class Message>
void announce_queued(Core& core, message_id id, const Message& m) {
    core.notify(queue_changed_event{id, queue_changed_event::change::added});
    if constexpr (Core::suppresses && Core::template observed<suppression_event>)
        for (const recipient& r : m.recipients)
            if (std::holds_alternative<status::failed>(r.status))
                core.notify(suppression_event{id, suppression_key(r.address, core.suppression().fold_local_part),
                                              suppression_event::change::refused});
    core.wake();
}

/// Queues the submitted message `m`, stored as a draft under `id`.
template <class Core>
std::error_code queue_submitted(Core& core, message_id id, typename Core::message_type&& m) {
    m.id = id;
    if constexpr (Core::coupled) {
        if (!has(m.submission, submit_flags::preprocess)) return submit_coupled(core, id, std::move(m));
    }
    if (auto ec = core.store().enqueue(id, m)) return ec;
    announce_queued(core, id, m);
    return {};
}

/// A client's submit of a stored draft.
template <class Core>
std::error_code submit(Core& core, message_id id) {
    auto loaded = core.store().load(id);
    if (!loaded) return loaded.error();
    if (auto ec = make_submitted(core, *loaded)) return ec; // the loaded copy is this call's own
    return queue_submitted(core, id, std::move(*loaded));
}

/// Stores `m`, already made submitted, and queues it: in one step where the
/// store creates queued messages, else created, then queued.
template <class Core, class Message>
result<message_id> store_submitted(Core& core, Message& m) {
    auto& store = core.store();
    if constexpr (QueuedCreateStore<typename Core::store_type> && !Core::coupled) {
        auto id = store.create_queued(folders::outbox, m);
        if (id) announce_queued(core, *id, m);
        return id;
    } else {
        auto id = store.create(folders::outbox, m);
        if (!id) return id;
        if (auto ec = queue_submitted(core, *id, std::move(m))) return ec;
        return id;
    }
}

/// A client's send: create and submit. On an error the draft is stored as given.
/// A store that can create a message already queued does it in one step, so a
/// crash never leaves the draft half sent; a coupled store goes the long way,
/// since its part of the work starts from a queued message.
template <class Core, class Message>
result<message_id> send(Core& core, Message& m) {
    auto& store = core.store();
    if constexpr (QueuedCreateStore<typename Core::store_type> && !Core::coupled) {
        if (auto invalid = make_submitted(core, m)) {
            auto id = store.create(folders::outbox, m);
            return id ? result<message_id>{invalid} : id;
        }
        return store_submitted(core, m);
    } else {
        auto id = store.create(folders::outbox, m);
        if (!id) return id;
        if (auto ec = make_submitted(core, m)) return ec;
        if (auto ec = queue_submitted(core, *id, std::move(m))) return ec;
        return id;
    }
}

/// A client's send of many messages: each is checked and made submitted
/// first, and a refusal stores none. A store that creates in bulk queues them
/// in one step; another sends them one by one in one batch, where a store
/// failure rolls all of them back (a store that cannot batch keeps those
/// queued before the failure).
template <class Core, class Message>
result<std::vector<message_id>> send_all(Core& core, std::span<Message> ms) {
    for (Message& m : ms)
        if (auto ec = make_submitted(core, m)) return ec;
    auto& store = core.store();
    std::vector<message_id> ids;
    if constexpr (BulkQueuedCreateStore<typename Core::store_type> && !Core::coupled) {
        auto made = store.create_queued(folders::outbox, std::span<const Message>(ms));
        if (!made) return made.error();
        ids = std::move(*made);
        for (std::size_t i = 0; i < ids.size(); ++i) announce_queued(core, ids[i], ms[i]);
    } else {
        struct refused {};
        std::error_code failed;
        try {
            failed = in_one_commit(store, [&] {
                for (Message& m : ms) {
                    auto id = store_submitted(core, m);
                    if (!id) {
                        failed = id.error();
                        throw refused{}; // so that the batch rolls back
                    }
                    ids.push_back(*id);
                }
            });
        } catch (const refused&) {
        }
        if (failed) return failed;
    }
    return ids;
}

} // namespace spool::detail
