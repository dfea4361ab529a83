#pragma once

#include <cstdint>
#include <iterator>
#include <string_view>

namespace spool::detail::sqlite {

// The schema, one step per version. A database is brought forward step by step.
inline constexpr std::string_view migrations[] = {
    // 1
    "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, folder INTEGER NOT NULL, body BLOB NOT NULL);"
    "CREATE INDEX messages_by_folder ON messages (folder, id);"
    "CREATE TABLE outgoing_queue (message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,"
    " submit_time INTEGER NOT NULL, sequence INTEGER NOT NULL, submit_flags INTEGER NOT NULL);"
    "CREATE INDEX queue_order ON outgoing_queue (submit_time, sequence);",
    // 2: enqueue takes MAX(sequence); without this index that scanned the whole queue.
    "CREATE INDEX queue_by_sequence ON outgoing_queue (sequence);",
    // 3: each entry's next attempt (spool::next_attempt), so that a pass reads
    // only what is due. Entries of older databases start due (0): the next
    // pass looks at each once and writes its real value.
    "ALTER TABLE outgoing_queue ADD COLUMN next_attempt INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX queue_due ON outgoing_queue (next_attempt);",
    // 4: the shared queue's lease (holder, end in ms since the epoch by this
    // host's clock) and fencing token.
    "ALTER TABLE outgoing_queue ADD COLUMN lease_owner TEXT;"
    "ALTER TABLE outgoing_queue ADD COLUMN lease_until INTEGER;"
    "ALTER TABLE outgoing_queue ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;",
    // 5: administration (docs/administration.md): a hold (since when, in ns;
    // its next attempt is then held_next_attempt, past any due query), the
    // time of earlier holds, and the request waiting for a spooler.
    "ALTER TABLE outgoing_queue ADD COLUMN held_since INTEGER;"
    "ALTER TABLE outgoing_queue ADD COLUMN held_for INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outgoing_queue ADD COLUMN request INTEGER NOT NULL DEFAULT 0;",
    // 6: the destination that is down a message waits for (its next attempt
    // is then the destination's next probe), so that passes do not read it
    // until then, and the messages of a destination back up are found at once.
    "ALTER TABLE outgoing_queue ADD COLUMN waiting_for TEXT;"
    "CREATE INDEX queue_waiting ON outgoing_queue (waiting_for) WHERE waiting_for IS NOT NULL;",
    // 7: the suppression list (docs/suppression.md), keyed by the address as
    // suppression_key() writes it: a look-up is one read of the primary key.
    "CREATE TABLE suppressions (address BLOB PRIMARY KEY, reason BLOB NOT NULL, diagnostic BLOB NOT NULL,"
    " added INTEGER NOT NULL, expires INTEGER NOT NULL, source INTEGER NOT NULL) WITHOUT ROWID;",
    // 8: returned reports kept until their original is out of its hand-off
    // (docs/returned-reports.md), oldest first by key.
    "CREATE TABLE returned_backlog (key INTEGER PRIMARY KEY AUTOINCREMENT, original INTEGER NOT NULL,"
    " reporting_mta BLOB NOT NULL, recipients BLOB NOT NULL);",
    // 9: the action log (docs/web.md), newest first by key; retention
    // removes by time, through its index.
    "CREATE TABLE action_log (key INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, who BLOB NOT NULL,"
    " action BLOB NOT NULL, target BLOB NOT NULL, done INTEGER NOT NULL, refused INTEGER NOT NULL, skipped INTEGER NOT NULL);"
    "CREATE INDEX action_log_by_time ON action_log (at);",
};
// The next attempt of a held message: after every `now`, so no due query finds it.
inline constexpr std::int64_t held_next_attempt = INT64_MAX;
inline constexpr int latest_schema = static_cast<int>(std::size(migrations));
inline constexpr const char* application = "spool";

} // namespace spool::detail::sqlite
