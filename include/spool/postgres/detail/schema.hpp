#pragma once

// The PostgreSQL store's schema, one step per version: a database is brought
// forward step by step, under an advisory lock (store.hpp, migrate()).

#include <iterator>
#include <string_view>

namespace spool::detail::postgres {

// The schema, one step per version; a database is brought forward step by step.
// Bodies live apart from the queue, so that claims and lease renewals update
// narrow rows; the queue's fillfactor leaves room on each page, so those
// updates stay heap-only (no new index entries, less bloat).
inline constexpr std::string_view migrations[] = {
    // 1
    "CREATE TABLE spool_messages (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, folder bigint NOT NULL, body bytea NOT NULL);"
    "CREATE INDEX spool_messages_by_folder ON spool_messages (folder, id);"
    "CREATE TABLE spool_queue (message_id bigint PRIMARY KEY REFERENCES spool_messages (id) ON DELETE CASCADE,"
    " submit_time bigint NOT NULL, sequence bigint GENERATED ALWAYS AS IDENTITY, submit_flags bigint NOT NULL,"
    " next_attempt bigint NOT NULL, lease_owner text, lease_until timestamptz, fence bigint NOT NULL DEFAULT 0)"
    " WITH (fillfactor = 70);"
    "CREATE INDEX spool_queue_order ON spool_queue (submit_time, sequence);"
    "CREATE INDEX spool_queue_due ON spool_queue (next_attempt);"
    // Every message leaves a few dead queue rows (claimed, released, deleted):
    // vacuum the queue by a number of them, not by a share of a table that may
    // be small, and without the cost pauses (docs/postgres-store.md, "Bloat").
    "ALTER TABLE spool_queue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,"
    " autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000, autovacuum_vacuum_cost_delay = 0);",
    // 2: administration (docs/administration.md): a hold (since when, in ns;
    // its next attempt is then held_next_attempt, past any due query), the
    // time of earlier holds, and the request waiting for a spooler.
    "ALTER TABLE spool_queue ADD COLUMN held_since bigint, ADD COLUMN held_for bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN request smallint NOT NULL DEFAULT 0;",
    // 3: the destination that is down a message waits for (its next attempt
    // is then the destination's next probe), so that claims do not take it
    // until then, and the messages of a destination back up are found at once.
    // A destination that goes down or comes back rewrites the next attempt of
    // its whole backlog at once: the statistics are refreshed by a number of
    // rows changed too, so claims soon plan with what is due now.
    "ALTER TABLE spool_queue ADD COLUMN waiting_for text;"
    "CREATE INDEX spool_queue_waiting ON spool_queue (waiting_for) WHERE waiting_for IS NOT NULL;"
    "ALTER TABLE spool_queue SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000);",
    // 4: the suppression list (docs/suppression.md), shared by every spooler
    // on the database, keyed by the address as suppression_key() writes it:
    // a look-up is one read of the primary key.
    "CREATE TABLE spool_suppressions (address text COLLATE \"C\" PRIMARY KEY, reason text NOT NULL, diagnostic text NOT NULL,"
    " added bigint NOT NULL, expires bigint NOT NULL, source bigint NOT NULL);",
    // 5: returned reports kept until their original is out of its hand-off
    // (docs/returned-reports.md), oldest first by key.
    "CREATE TABLE spool_returned (key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, original bigint NOT NULL,"
    " reporting_mta bytea NOT NULL, recipients bytea NOT NULL);",
    // 6: the action log (docs/web.md), newest first by key; retention removes
    // by time, through its index. Texts are bytea: a user name or a filter
    // is kept as given, whatever its encoding.
    "CREATE TABLE spool_actions (key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at bigint NOT NULL, who bytea NOT NULL,"
    " action bytea NOT NULL, target bytea NOT NULL, done bigint NOT NULL, refused bigint NOT NULL, skipped bigint NOT NULL);"
    "CREATE INDEX spool_actions_by_time ON spool_actions (at);",
};
inline constexpr int latest_schema = static_cast<int>(std::size(migrations));

} // namespace spool::detail::postgres
