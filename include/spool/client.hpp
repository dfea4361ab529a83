#pragma once

// What a client may do with messages (MAPI: IMessage and IMsgStore as a
// client sees them). The operations reserved for the spooler (lock, finish,
// the outgoing queue) are not here, so a client cannot call them.

#include <spool/detail/client_desk.hpp>
#include <spool/detail/one_commit.hpp>
#include <spool/error.hpp>
#include <spool/events.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>
#include <spool/store_capabilities.hpp>

#include <concepts>
#include <system_error>
#include <utility>
#include <vector>

namespace spool {

/// How a client opens a message (MAPI OpenEntry flags).
enum class access {
    read_only, ///< a copy to read
    modify,    ///< a copy to edit and save back; refused for queued messages (MAPI_MODIFY)
    best,      ///< modify where allowed, else read-only (MAPI_BEST_ACCESS)
};

template <class... Policies>
class spooler;

/// A client's handle on a spooler's store, from spooler::client(). Cheap to
/// copy; valid while its spooler lives. Typed on the store alone: what only
/// the spooler can do (submit's expansion and stamping, the locks) it asks of
/// its spooler, so a program that only submits and reads instantiates none of
/// the spooler's machinery here.
template <class Store>
class client {
public:
    using store_type = Store;
    using message_type = typename Store::message_type;

    /// Creates a draft in `folder` and returns its id. Submission state in
    /// `draft` is ignored: a message becomes submitted only through submit().
    result<message_id> create(message_type draft, folder_id folder = folders::outbox) {
        as_draft(draft);
        return store_->create(folder, draft);
    }

    /// Opens a message. A message the spooler holds locked gives
    /// errc::no_access; a queued message opened with access::modify gives
    /// errc::submitted; read_only and best give a copy of a queued message.
    result<message_type> open(message_id id, access mode = access::best) const {
        auto& queue = desk_->queue();
        {
            auto g = queue.guard();
            if (queue.locked(id)) return errc::no_access;
        }
        if constexpr (SharedQueueStore<Store>)
            if (store_->leased_elsewhere(id)) return errc::no_access; // another process's spooler has it
        auto m = store_->load(id);
        if (m && m->submitted() && mode == access::modify) return errc::submitted;
        return m;
    }

    /// Saves an edited draft. A queued message gives errc::submitted (errc::no_access while locked).
    std::error_code save(message_id id, message_type edited) {
        auto& queue = desk_->queue();
        auto g = queue.guard();
        if (queue.locked(id)) return errc::no_access;
        auto current = store_->load(id);
        if (!current) return current.error();
        if (current->submitted()) return errc::submitted;
        as_draft(edited);
        edited.id = id;
        return store_->save(id, edited);
    }

    /// Submits a draft for sending and returns at once; the spooler does the rest.
    /// Errors: errc::no_recipients, errc::unresolved_recipient,
    /// errc::invalid_address and errc::invalid_header_value (a field that
    /// cannot be sent as it is), errc::invalid_mime (the payload's own MIME
    /// text), errc::already_submitted, errc::not_found, or
    /// the store's own. On error the draft is unchanged, and nothing is queued.
    std::error_code submit(message_id id) { return desk_->submit(id); }

    /// create() then submit(), in one durable step where the store can
    /// (`create_queued`, as the in-memory and SQLite stores can). On a submit
    /// error the draft stays in the outbox, as given, and the error is returned.
    result<message_id> send(message_type m) {
        as_draft(m);
        return desk_->send(m);
    }

    /// Sends many messages in one durable step: all are queued, in their
    /// order, or none is stored. A store that creates in bulk
    /// (BulkQueuedCreateStore, as the PostgreSQL store does) writes them in a
    /// statement or a few; another sends them one by one in one batch. Unlike
    /// send(), a message refused (errc::no_recipients, unresolved_recipient)
    /// is not kept as a draft: its error is returned and nothing is stored.
    result<std::vector<message_id>> send_all(std::vector<message_type> ms) {
        for (message_type& m : ms) as_draft(m);
        return desk_->send_all(ms);
    }

    /// Takes a queued message back to an editable draft (MAPI AbortSubmit).
    /// errc::unable_to_abort once the spooler has locked it; errc::not_in_queue
    /// when it is not queued (never submitted, or already finished).
    std::error_code abort_submit(message_id id) {
        auto& queue = desk_->queue();
        auto g = queue.guard();
        if (queue.locked(id)) return errc::unable_to_abort;
        auto m = store_->load(id);
        if (!m) return m.error();
        if (!m->submitted()) return errc::not_in_queue;
        m->flags = m->flags & ~message_flags::submitted;
        m->submission = submit_flags::none;
        if (auto ec = store_->abort_submit(id, *m)) return ec;
        queue.forget(id);
        desk_->queue_changed(queue_changed_event{id, queue_changed_event::change::removed});
        return {};
    }

    /// Runs f, making every store operation in it one commit where the store
    /// can (a store with `batch(f)`, such as the SQLite store); elsewhere f just
    /// runs. If the store's commit fails, none of f's operations happened.
    template <class F>
    std::error_code batch(F&& f) {
        return detail::in_one_commit(*store_, std::forward<F>(f));
    }

    /// The ids of the messages in a folder.
    std::vector<message_id> contents(folder_id folder) const {
        std::vector<message_id> ids;
        for (message_id id : store_->contents(folder)) ids.push_back(id);
        return ids;
    }

private:
    template <class... Policies>
    friend class spooler;
    client(Store& store, detail::client_desk<message_type>& desk) noexcept : store_(&store), desk_(&desk) {}

    // A draft keeps only what its client asks of the submit to come.
    static void as_draft(message_type& m) {
        m.flags = m.flags & ~message_flags::submitted;
        m.submission = m.submission & submit_flags::ignore_suppression;
    }

    Store* store_;
    detail::client_desk<message_type>* desk_;
};

} // namespace spool
