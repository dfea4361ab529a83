#pragma once

// A client's submit (MAPI IMessage::SubmitMessage with the store's part of
// ExpandRecips): validate, expand and de-duplicate recipients, stamp, decide on
// preprocessing, let a tightly coupled store handle what it can, queue, wake.

#include <spool/detail/completion.hpp>
#include <spool/detail/dispatch.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <unordered_map>
#include <system_error>
#include <vector>

namespace spool::detail {

inline std::string recipient_key(const recipient& r) {
    std::string key = r.address_type;
    key += '\0';
    // Addresses compare without case: mail systems treat Bob@X and bob@x as one mailbox in practice.
    for (char c : r.address) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return key;
}

inline bool same_address(const recipient& a, const recipient& b) {
    return a.address_type == b.address_type && a.address.size() == b.address.size() &&
           std::equal(a.address.begin(), a.address.end(), b.address.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

/// Replaces lists by their members (nested lists too, each list once), then
/// keeps one row per address; a duplicate keeps the most visible kind (to
/// before cc before bcc) so that nobody is transmitted twice or hidden.
template <class Expand>
std::vector<recipient> expand_recipients(std::vector<recipient> given, Expand&& expand) {
    std::vector<recipient> flat;
    flat.reserve(given.size());
    std::set<std::string> lists_seen;
    auto walk = [&](auto& self, recipient&& r, recipient_kind kind) -> void {
        if (auto members = expand(r)) {
            if (!lists_seen.insert(recipient_key(r)).second) return; // a list that contains itself
            for (recipient& m : *members) self(self, std::move(m), kind);
            return;
        }
        r.kind = kind;
        flat.push_back(std::move(r));
    };
    for (recipient& r : given) {
        const recipient_kind kind = r.kind;
        walk(walk, std::move(r), kind);
    }

    std::vector<recipient> unique;
    unique.reserve(flat.size());
    auto keep = [&](recipient& r, recipient* same) {
        if (same) same->kind = std::min(same->kind, r.kind);
        else unique.push_back(std::move(r));
    };
    if (flat.size() <= 16) { // the usual message: comparing in place beats hashing
        for (recipient& r : flat) {
            auto it = std::find_if(unique.begin(), unique.end(), [&](const recipient& u) { return same_address(u, r); });
            keep(r, it == unique.end() ? nullptr : &*it);
        }
        return unique;
    }
    std::unordered_map<std::string, std::size_t> position;
    for (recipient& r : flat) {
        auto [it, added] = position.try_emplace(recipient_key(r), unique.size());
        keep(r, added ? nullptr : &unique[it->second]);
    }
    return unique;
}

/// True if a composed preprocessor applies to a recipient still waiting for a transport.
template <class Core, class Message>
bool needs_preprocessing(Core& core, const Message& m) {
    bool needed = false;
    core.for_each_preprocessor(
        [&](auto&, const spool::address_types& types) { needed = needed || preprocessor_applies(types, m); });
    return needed;
}

/// A tightly coupled store handles the recipients it can before the spooler
/// sees the message; a message it settles completely never reaches the spooler.
/// The message is queued first, so a crash in between loses nothing, and held
/// locked, so the spooler leaves it alone meanwhile.
template <class Core, class Message>
std::error_code submit_coupled(Core& core, message_id id, Message m) {
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
    const auto before = statuses_of(m);
    dispatch_round<Message> round(m, now, now + core.max_lifetime());
    transport_state state; // a coupled store's own availability is not remembered across submits
    const spool::address_types& types = core.types_of(Core::policies::store_index);
    round.offer(store, types, state, !types.catch_all(), [&](unsigned n) { return core.backoff(n); });

    // The message is accepted once it is queued. If the store cannot record
    // what the coupled transport did, the spooler finishes the job from the
    // queue (recipients it cannot see as settled are sent again: at-least-once).
    const pass_outcome outcome = complete_pass(core, id, m, before, now);
    unlock();
    if (!outcome.finished) core.wake();
    return {};
}

template <class Core>
std::error_code submit(Core& core, message_id id) {
    auto& store = core.store();
    auto loaded = store.load(id);
    if (!loaded) return loaded.error();
    auto m = std::move(*loaded);

    if (m.submitted()) return errc::already_submitted;
    if (m.recipients.empty()) return errc::no_recipients;
    // m is this call's own copy: a failure below leaves the stored draft as it was.
    auto recipients = expand_recipients(std::move(m.recipients), [&](const recipient& r) { return core.expand(r); });
    if (recipients.empty()) return errc::no_recipients;
    if (!std::all_of(recipients.begin(), recipients.end(), [](const recipient& r) { return r.resolved(); }))
        return errc::unresolved_recipient;

    for (recipient& r : recipients) {
        r.responsibility = false;
        r.status = status::pending{};
    }
    m.recipients = std::move(recipients);
    m.flags |= message_flags::submitted | message_flags::unsent;
    m.client_submit_time = core.now();
    if (m.message_class.empty()) m.message_class = "IPM";
    const bool preprocess = needs_preprocessing(core, m);
    m.submission = preprocess ? submit_flags::preprocess : submit_flags::none;

    if constexpr (Core::coupled) {
        if (!preprocess) return submit_coupled(core, id, std::move(m));
    }
    if (auto ec = store.enqueue(id, m)) return ec;
    core.notify(queue_changed_event{id, queue_changed_event::change::added});
    core.wake();
    return {};
}

} // namespace spool::detail
