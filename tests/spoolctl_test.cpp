// spoolctl, run as a separate process on a real database file while a
// spooler works it in another (tests/processes/peer.cpp): every operation,
// the JSON output read by Python's json module, a 100k-message listing in
// bounded memory, and bad input, which changes nothing.
#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/processes.hpp"
#include "support/reports.hpp"
#include "support/sqlite_files.hpp"
#include "support/temp_dir.hpp"

#include <spool/administration.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

// Sanitizers keep freed memory and shadow state, so peak memory means little under them.
// GCC names them with __SANITIZE_*__, clang 14 only through __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPOOL_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SPOOL_TEST_SANITIZED 1
#endif
#endif
#ifndef SPOOL_TEST_SANITIZED
#define SPOOL_TEST_SANITIZED 0
#endif

using namespace std::chrono_literals;
using spool_test::contents_of;
using spool_test::eventually;
using spool_test::from_ann;
using spool_test::smtp;

namespace {

struct outcome {
    int code = -1;
    std::string out, err;
    long max_rss_kib = 0;
};

// Runs spoolctl with `args`, standard input from `in` (a file) if given;
// as the user nobody, through setpriv, if `as_nobody`.
outcome spoolctl(const spool_test::temp_dir& dir, std::vector<std::string> args, const std::string& in = {},
                 bool as_nobody = false) {
    const std::string out = dir.file("spoolctl.out"), err = dir.file("spoolctl.err");
    std::string program = SPOOLCTL;
    if (as_nobody) {
        args.insert(args.begin(), {"--reuid=65534", "--regid=65534", "--clear-groups", program});
        program = "/usr/bin/setpriv";
    }
    const auto done = spool_test::wait_for(spool_test::spawn(program, args, in, out, err));
    return {done.code, contents_of(out), contents_of(err), done.max_rss_kib};
}

spool::message_id queue(spool::sqlite_store& store, const std::string& to) {
    auto m = from_ann({smtp(to)});
    m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
    m.client_submit_time = std::chrono::system_clock::now();
    return store.create_queued(spool::folders::outbox, m).value();
}

std::string id_text(spool::message_id id) { return std::to_string(static_cast<std::uint64_t>(id)); }

bool delivered(const spool_test::temp_dir& dir, const std::string& address) {
    return contents_of(dir.file("deliveries")).find(address + "\n") != std::string::npos;
}

bool deferred(const spool::sqlite_store& store, spool::message_id id) {
    auto m = store.load(id);
    return m && m->recipients.front().is_deferred();
}

// A spool file with one queued message, and no store or spooler open on it.
struct one_queued {
    spool_test::temp_dir dir;
    std::string db = dir.file("spool.db");
    spool::message_id a = [&] {
        spool::sqlite_store store(db);
        return queue(store, "a@example.net");
    }();
};

struct spool_with_peer {
    spool_test::temp_dir dir;
    std::string db = dir.file("spool.db");
    spool::sqlite_store store{db};
    spool_test::running_peer peer{SPOOL_PEER, dir, db};
};

} // namespace

TEST_CASE("spoolctl hold: a due message is not sent by the spooler in another process, and once released it is sent") {
    spool_with_peer s;
    s.peer.pause(); // so that it cannot send the message before the hold
    const auto held = queue(s.store, "held@example.net");
    const auto r = spoolctl(s.dir, {"--db", s.db, "hold", id_text(held)});
    CHECK(r.code == 0);
    CHECK(r.out == id_text(held) + ": hold: done\n");
    const auto marker = queue(s.store, "marker@example.net"); // submitted after it
    s.peer.resume();
    REQUIRE(eventually([&] { return delivered(s.dir, "marker@example.net"); }));
    CHECK_FALSE(delivered(s.dir, "held@example.net")); // the spooler passed it over
    CHECK(s.store.inspect(held, std::chrono::system_clock::now())->state == spool::queue_state::held);
    (void)marker;

    const auto released = spoolctl(s.dir, {"--db", s.db, "release", id_text(held)});
    CHECK(released.code == 0);
    CHECK(eventually([&] { return delivered(s.dir, "held@example.net"); }));
}

TEST_CASE("spoolctl flush --domain: a destination waiting on a retry is attempted now") {
    spool_with_peer s;
    const auto waiting = queue(s.store, "x@retry.example");
    REQUIRE(eventually([&] { return deferred(s.store, waiting); })); // the peer defers it for an hour
    const auto r = spoolctl(s.dir, {"--db", s.db, "flush", "--domain", "retry.example"});
    CHECK(r.code == 0);
    CHECK(r.out.starts_with(id_text(waiting) + ": flush: requested"));
    CHECK(eventually([&] { return delivered(s.dir, "x@retry.example"); }));
}

TEST_CASE("spoolctl delete: a message the running spooler may have in hand is deleted by it when it gets to it, without a report") {
    spool_with_peer s;
    s.peer.pause();
    const auto doomed = queue(s.store, "doomed@example.net");
    const auto r = spoolctl(s.dir, {"--db", s.db, "delete", id_text(doomed)});
    CHECK(r.code == 0);
    // The peer holds the spooler lock, and its claims are in its memory: the
    // delete is recorded for it, and it says so.
    CHECK(r.out.starts_with(id_text(doomed) + ": delete: requested"));
    s.peer.resume();
    CHECK(eventually([&] { return s.store.load(doomed).error() == spool::errc::not_found; }));
    CHECK_FALSE(delivered(s.dir, "doomed@example.net"));
    CHECK(spool_test::reports_in(s.store).empty());
}

TEST_CASE("spoolctl expire: the remaining recipients fail now, and the spooler in the other process makes the report") {
    spool_with_peer s;
    const auto late = queue(s.store, "late@retry.example");
    REQUIRE(eventually([&] { return deferred(s.store, late); }));
    const auto r = spoolctl(s.dir, {"--db", s.db, "expire", id_text(late)});
    CHECK(r.code == 0);
    CHECK(r.out.starts_with(id_text(late) + ": expire: requested"));
    REQUIRE(eventually([&] { return spool_test::reports_in(s.store).size() == 1; }));
    const auto report = spool_test::reports_in(s.store).front();
    CHECK(report.report->kind == spool::report_kind::non_delivery);
    CHECK(report.report->original_id == late);
    CHECK(s.store.load(late)->recipients.front().is_failed());
    CHECK_FALSE(delivered(s.dir, "late@retry.example"));
}

TEST_CASE("spoolctl --json: one JSON object per line, which Python's json module reads") {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db");
    spool::sqlite_store store(db);
    const auto a = queue(store, "a@example.net");
    queue(store, "b@example.org");
    REQUIRE(store.hold(a, std::chrono::system_clock::now()));
    auto python_reads = [&](const std::string& output, const std::string& kind, int lines) {
        std::ofstream(dir.file("json.out")) << output;
        const auto done = spool_test::wait_for(
            spool_test::spawn(SPOOL_TEST_PYTHON, {SPOOLCTL_CHECK_JSON, dir.file("json.out"), kind, std::to_string(lines)}, {},
                              dir.file("python.out"), dir.file("python.err")));
        INFO(contents_of(dir.file("python.err")));
        return done.code == 0 && contents_of(dir.file("python.out")) == std::to_string(lines) + "\n";
    };
    const auto list = spoolctl(dir, {"--db", db, "--json", "list"});
    CHECK(list.code == 0);
    CHECK(python_reads(list.out, "list", 2));
    const auto stats = spoolctl(dir, {"--db", db, "--json", "stats"});
    CHECK(stats.code == 0);
    CHECK(stats.out == "{\"total\":2,\"due\":1,\"deferred\":0,\"held\":1,\"in_hand\":0,\"requested\":0,\"waiting\":0}\n");
    CHECK(python_reads(stats.out, "stats", 1));
    const auto show = spoolctl(dir, {"--db", db, "--json", "show", id_text(a)});
    CHECK(python_reads(show.out, "list", 1));
    CHECK(show.out.find("\"held\":true") != std::string::npos);
    const auto released = spoolctl(dir, {"--db", db, "--json", "release", "ALL"});
    CHECK(released.code == 0);
    CHECK(python_reads(released.out, "operation", 2));
}

TEST_CASE("spoolctl suppression: an address an operator adds fails at submit in a spooler on the same file, and is sent once removed") {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db");
    spool::sqlite_store store(db);
    const auto added = spoolctl(dir, {"--db", db, "suppression", "add", "Gone@Example.ORG", "--reason", "asked to stop"});
    REQUIRE(added.code == 0);
    CHECK(added.out == "Gone@example.org: suppressed\n");

    spool::memory_transport transport{{"SMTP"}};
    spool::spooler sp{store, transport, spool::suppression_policy{}};
    const auto first = sp.client().send(from_ann({smtp("Gone@example.org")})).value();
    sp.drain();
    const auto failed = std::get<spool::status::failed>(sp.client().open(first).value().recipients[0].status);
    CHECK(failed.reason.find("suppressed: Gone@example.org is on the suppression list since") == 0);
    CHECK(failed.reason.find("(asked to stop)") != std::string::npos);
    CHECK(transport.deliveries().empty());

    const auto listed = spoolctl(dir, {"--db", db, "suppression", "list"});
    CHECK(listed.code == 0);
    CHECK(listed.out.find("Gone@example.org  since ") == 0);
    CHECK(listed.out.find("until removed  asked to stop\n1 address\n") != std::string::npos);
    const auto looked = spoolctl(dir, {"--db", db, "suppression", "lookup", "Gone@EXAMPLE.org", "gone@example.org"});
    CHECK(looked.code == 1); // the second differs in its local part: not listed
    CHECK(looked.err == "spoolctl: gone@example.org: not on the suppression list\n");

    REQUIRE(spoolctl(dir, {"--db", db, "suppression", "remove", "Gone@example.org"}).code == 0);
    const auto second = sp.client().send(from_ann({smtp("Gone@example.org")})).value();
    sp.drain();
    CHECK(sp.client().open(second).value().recipients[0].is_sent());
    CHECK(spoolctl(dir, {"--db", db, "suppression", "remove", "Gone@example.org"}).code == 1);
}

TEST_CASE("spoolctl suppression --json, and bad input") {
    spool_test::temp_dir dir;
    const auto db = dir.file("spool.db");
    { spool::sqlite_store store(db); }
    REQUIRE(spoolctl(dir, {"--db", db, "suppression", "add", "a@x.test", "b@x.test", "--expires-in", "3600"}).code == 0);
    auto python_reads = [&](const std::string& output, int lines) {
        std::ofstream(dir.file("json.out")) << output;
        const auto done = spool_test::wait_for(
            spool_test::spawn(SPOOL_TEST_PYTHON, {SPOOLCTL_CHECK_JSON, dir.file("json.out"), "suppression", std::to_string(lines)}, {},
                              dir.file("python.out"), dir.file("python.err")));
        INFO(contents_of(dir.file("python.err")));
        return done.code == 0 && contents_of(dir.file("python.out")) == std::to_string(lines) + "\n";
    };
    const auto list = spoolctl(dir, {"--db", db, "--json", "suppression", "list"});
    CHECK(list.code == 0);
    CHECK(python_reads(list.out, 2));
    const auto page = spoolctl(dir, {"--db", db, "--json", "suppression", "list", "--after", "a@x.test"});
    CHECK(page.out.find("\"address\":\"b@x.test\"") != std::string::npos);
    CHECK(python_reads(page.out, 1));
    CHECK(python_reads(spoolctl(dir, {"--db", db, "--json", "suppression", "lookup", "a@x.test"}).out, 1));

    const auto not_an_address = spoolctl(dir, {"--db", db, "suppression", "add", "b@x.test", "nobody"});
    CHECK(not_an_address.code == 2);
    CHECK(not_an_address.err.find("not an address: 'nobody'") != std::string::npos);
    CHECK(spoolctl(dir, {"--db", db, "suppression", "add"}).code == 2);
    CHECK(spoolctl(dir, {"--db", db, "suppression", "add", "c@x.test", "--expires-in", "-5"}).code == 2);
    CHECK(spoolctl(dir, {"--db", db, "suppression"}).code == 2);
    const auto count = spoolctl(dir, {"--db", db, "suppression", "list"});
    CHECK(count.out.find("2 addresses\n") != std::string::npos); // nothing added by the refused commands
}

TEST_CASE("spoolctl's actions go to the spool's action log, with the account that ran it, which spoolctl actions shows") {
    one_queued s;
    const auto missing = spool::message_id{static_cast<std::uint64_t>(s.a) + 100};
    REQUIRE(spoolctl(s.dir, {"--db", s.db, "hold", id_text(s.a), id_text(missing)}).code == 1); // one held, one refused
    REQUIRE(spoolctl(s.dir, {"--db", s.db, "delete", "--report", id_text(s.a)}).code == 0);
    REQUIRE(spoolctl(s.dir, {"--db", s.db, "suppression", "add", "Gone@Example.ORG"}).code == 0);
    REQUIRE(spoolctl(s.dir, {"--db", s.db, "suppression", "lookup", "Gone@example.org"}).code == 0); // a look-up is not an action

    const passwd* me = getpwuid(geteuid());
    REQUIRE(me);
    const std::string who = std::string(me->pw_name) + " (spoolctl)";
    const auto log = spool::sqlite_store(s.db).action_log(0, 10);
    REQUIRE(log);
    REQUIRE(log->size() == 3);
    const auto& e = *log;
    CHECK((e[0].who == who && e[0].action == "suppress" && e[0].target == "Gone@example.org" && e[0].done == 1));
    CHECK((e[1].action == "delete_with_report" && e[1].target == "message " + id_text(s.a) && e[1].done == 1 && e[1].refused == 0));
    CHECK((e[2].action == "hold" && e[2].target == "messages " + id_text(s.a) + ", " + id_text(missing) && e[2].done == 1 &&
           e[2].refused == 1));

    const auto shown = spoolctl(s.dir, {"--db", s.db, "--json", "actions", "--limit", "1"});
    CHECK(shown.code == 0);
    CHECK(shown.out.find("\"who\":\"" + who + "\",\"action\":\"suppress\",\"target\":\"Gone@example.org\",\"done\":1,\"refused\":0,"
                         "\"skipped\":0}\n") != std::string::npos);
    CHECK(std::count(shown.out.begin(), shown.out.end(), '\n') == 1);
    const auto text_form = spoolctl(s.dir, {"--db", s.db, "actions"});
    CHECK(text_form.out.find("  hold  messages " + id_text(s.a) + ", " + id_text(missing) + "  1 done, 1 refused, 0 skipped\n") != std::string::npos);
    CHECK(text_form.out.find("3 entries\n") != std::string::npos);

    // Retention: an entry older than --log-retention days goes at the next logged action.
    REQUIRE_FALSE(spool::sqlite_store(s.db).log_action({0, std::chrono::system_clock::now() - std::chrono::hours{24 * 3}, "old", "hold", "x", 1, 0, 0}));
    REQUIRE(spoolctl(s.dir, {"--db", s.db, "--log-retention", "2", "suppression", "remove", "Gone@example.org"}).code == 0);
    const auto kept = spool::sqlite_store(s.db).action_log(0, 10);
    REQUIRE(kept);
    CHECK(kept->size() == 4);
    CHECK(std::none_of(kept->begin(), kept->end(), [](const spool::logged_action& a) { return a.who == "old"; }));
    CHECK(spoolctl(s.dir, {"--db", s.db, "--log-retention", "-1", "actions"}).code == 2);
}

TEST_CASE("spoolctl lists 100k queued messages a page at a time: its memory does not grow with the queue") {
    spool_test::temp_dir dir;
    auto fill = [&](const std::string& db, int n) {
        spool::sqlite_store store(db);
        auto m = from_ann({smtp("someone@example.net")});
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        for (int done = 0; done < n; done += 1000)
            REQUIRE_FALSE(store.batch([&] {
                for (int i = done; i < std::min(n, done + 1000); ++i) (void)store.create_queued(spool::folders::outbox, m);
            }));
    };
    const auto small = dir.file("small.db"), large = dir.file("large.db");
    fill(small, 1000);
    fill(large, 100000);
    const auto few = spoolctl(dir, {"--db", small, "--json", "list"});
    const auto many = spoolctl(dir, {"--db", large, "--json", "list"});
    REQUIRE(many.code == 0);
    CHECK(std::count(many.out.begin(), many.out.end(), '\n') == 100000);
#if !SPOOL_TEST_SANITIZED
    // Bounded: a hundred times the queue costs less than 8 MiB more at peak
    // (SQLite's page cache, not the listing). Sanitizers keep freed memory in
    // quarantine, so there the peak follows everything ever allocated.
    INFO("peak RSS: 1000 messages " << few.max_rss_kib << " KiB, 100000 messages " << many.max_rss_kib << " KiB");
    CHECK(many.max_rss_kib < few.max_rss_kib + 8 * 1024);
#endif
}

TEST_CASE("spoolctl refuses bad input with a clear message and a non-zero exit, and changes nothing") {
    one_queued q;
    const spool_test::temp_dir& dir = q.dir;
    const std::string& db = q.db;
    const spool::message_id a = q.a;
    auto held = [&] {
        spool::sqlite_store store(db);
        return store.inspect(a, std::chrono::system_clock::now())->held;
    };

    SECTION("an unknown id: refused for it (exit 1), the other ids done") {
        const auto r = spoolctl(dir, {"--db", db, "hold", "987654", id_text(a)});
        CHECK(r.code == 1);
        CHECK(r.err == "spoolctl: 987654: hold: no such message\n");
        CHECK(held());
    }
    SECTION("a malformed id on standard input: nothing is done (exit 2)") {
        std::ofstream(dir.file("ids")) << id_text(a) << "\n\nnot-an-id\n";
        const auto r = spoolctl(dir, {"--db", db, "hold", "-"}, dir.file("ids"));
        CHECK(r.code == 2);
        CHECK(r.err.starts_with("spoolctl: standard input, line 3: 'not-an-id' is not a message id"));
        CHECK_FALSE(held());
    }
    SECTION("a file that does not exist is not created (exit 3)") {
        const auto r = spoolctl(dir, {"--db", dir.file("typo.db"), "stats"});
        CHECK(r.code == 3);
        CHECK(r.err.starts_with("spoolctl: cannot open " + dir.file("typo.db") + ": No such file or directory"));
        struct stat st {};
        CHECK(::stat(dir.file("typo.db").c_str(), &st) != 0);
    }
    SECTION("a database that is not a spool (exit 3), left as it was") {
        const auto other = dir.file("other.db");
        spool_test::raw_sql(other, "CREATE TABLE accounts (id INTEGER PRIMARY KEY)");
        const auto before = contents_of(other);
        const auto r = spoolctl(dir, {"--db", other, "list"});
        CHECK(r.code == 3);
        CHECK(r.err == "spoolctl: cannot open " + other + ": the database is not a spool store\n");
        CHECK(contents_of(other) == before);
        std::ofstream(dir.file("empty.db")).flush(); // an empty file is an empty database, not a spool
        CHECK(spoolctl(dir, {"--db", dir.file("empty.db"), "stats"}).code == 3);
        CHECK(contents_of(dir.file("empty.db")).empty());
    }
    SECTION("a database of a newer spool (exit 3), left as it was") {
        spool_test::raw_sql(db, "UPDATE spool_schema SET version = 99");
        const auto before = contents_of(db);
        const auto r = spoolctl(dir, {"--db", db, "hold", id_text(a)});
        CHECK(r.code == 3);
        CHECK(r.err == "spoolctl: cannot open " + db + ": the database was written by a newer spool and cannot be opened\n");
        CHECK(contents_of(db) == before);
    }
    SECTION("a read-only file (exit 3), left as it was") {
        REQUIRE(::chmod(db.c_str(), 0444) == 0);
        REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
        const auto before = contents_of(db);
        // root may write any file: then spoolctl runs as nobody, for whom the file is read-only.
        const auto r = spoolctl(dir, {"--db", db, "hold", id_text(a)}, {}, ::geteuid() == 0);
        CHECK(r.code == 3);
        CHECK(r.err.starts_with("spoolctl: cannot open " + db + ": "));
        CHECK(r.err.find("ermission denied") != std::string::npos);
        CHECK(contents_of(db) == before);
        REQUIRE(::chmod(db.c_str(), 0600) == 0);
        CHECK_FALSE(held());
    }
    SECTION("usage errors: no command, an unknown state, ALL with ids (exit 2)") {
        CHECK(spoolctl(dir, {"--db", db}).code == 2);
        const auto state = spoolctl(dir, {"--db", db, "list", "--state", "stuck"});
        CHECK(state.code == 2);
        CHECK(state.err.starts_with("spoolctl: --state must be due, deferred, held, in_hand or waiting, not 'stuck'"));
        CHECK(spoolctl(dir, {"--db", db, "hold", "ALL", id_text(a)}).code == 2);
        CHECK_FALSE(held());
    }
    SECTION("an unknown command is named; a negative, overflowing or non-numeric count is a usage error that says so (exit 2)") {
        const auto unknown = spoolctl(dir, {"--db", db, "frobnicate", id_text(a)});
        CHECK(unknown.code == 2);
        CHECK(unknown.err.starts_with("spoolctl: unknown command 'frobnicate' (expected list, show,"));
        for (const std::string limit : {"-1", "99999999999999999999"}) {
            const auto r = spoolctl(dir, {"--db", db, "list", "--limit", limit});
            CHECK(r.code == 2);
            CHECK(r.err.starts_with("--limit: must be 0 or more, and at most 9223372036854775807, not '" + limit + "'"));
            CHECK(r.out.empty());
        }
        const auto words = spoolctl(dir, {"--db", db, "list", "--limit", "ten"});
        CHECK(words.code == 2);
        CHECK(words.err.starts_with("--limit: must be a whole number, 0 or more, not 'ten'"));
        const auto older = spoolctl(dir, {"--db", db, "list", "--older-than", "-5"});
        CHECK(older.code == 2);
        CHECK(older.err.starts_with("--older-than: must be 0 or more, and at most 9223372036854775807, not '-5'\n"));
        CHECK_FALSE(held());
    }
}

TEST_CASE("spoolctl list --limit shows at most that many messages, and --limit 0 none") {
    one_queued q;
    spool::sqlite_store store(q.db);
    auto m = from_ann({smtp("someone@example.net")});
    m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
    for (int i = 0; i < 2; ++i) REQUIRE(store.create_queued(spool::folders::outbox, m));
    CHECK(spoolctl(q.dir, {"--db", q.db, "list"}).out.ends_with("\n3 messages\n"));
    CHECK(spoolctl(q.dir, {"--db", q.db, "list", "--limit", "2"}).out.ends_with("\n2 messages\n"));
    const auto none = spoolctl(q.dir, {"--db", q.db, "list", "--limit", "0"});
    CHECK(none.code == 0);
    CHECK(none.out == "0 messages\n");
    CHECK(spoolctl(q.dir, {"--db", q.db, "--json", "list", "--limit", "0"}).out.empty());
}

TEST_CASE("spoolctl shows a message it cannot decode as far as its queue entry goes, and leaves it exactly as it is") {
    one_queued q;
    const auto id = static_cast<std::uint64_t>(q.a);
    // Damage the stored message: a listing must not quarantine it, as the spooler's load would.
    spool_test::store_body(q.db, id, std::string("\x02\xde\xad\xbe\xef", 5));
    const auto text = spoolctl(q.dir, {"--db", q.db, "list"});
    CHECK(text.code == 0);
    CHECK(text.out.starts_with(id_text(q.a) + "  5 bytes  submitted "));
    CHECK(text.out.find("(the message cannot be read here: it could not be decoded: damaged, or written with a payload type other than spool's mail_payload; it is left as it is)") != std::string::npos);
    const auto json = spoolctl(q.dir, {"--db", q.db, "--json", "show", id_text(q.a)});
    CHECK(json.code == 0);
    CHECK(json.out.find("\"decoded\":false") != std::string::npos);
    CHECK(spool_test::stored_body(q.db, id) == std::string("\x02\xde\xad\xbe\xef", 5));
    spool::sqlite_store store(q.db);
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(store.contents(spool::folders::outbox) == std::vector{q.a});
}

TEST_CASE("spoolctl shows a message in a newer spool's format with one reason, and leaves it as it is") {
    one_queued q;
    const auto id = static_cast<std::uint64_t>(q.a);
    const std::string newer = spool_test::newer_format_body();
    spool_test::store_body(q.db, id, newer);
    const auto text = spoolctl(q.dir, {"--db", q.db, "show", id_text(q.a)});
    CHECK(text.code == 0);
    CHECK(text.out.find("(the message cannot be read here: it was written by a newer spool than this spoolctl; it is left as it is)") !=
          std::string::npos);
    CHECK(text.out.find("left as it was") == std::string::npos);
    CHECK(spool_test::stored_body(q.db, id) == newer);
}

TEST_CASE("spoolctl delete with no spooler running deletes at once, and --help explains the commands and exit codes") {
    one_queued q;
    const spool_test::temp_dir& dir = q.dir;
    const std::string& db = q.db;
    const spool::message_id a = q.a;
    const auto r = spoolctl(dir, {"--db", db, "delete", id_text(a)});
    CHECK(r.code == 0);
    CHECK(r.out == id_text(a) + ": delete: done\n");
    spool::sqlite_store store(db);
    CHECK(store.load(a).error() == spool::errc::not_found);

    const auto help = spoolctl(dir, {"--help"});
    CHECK(help.code == 0);
    for (const char* word : {"list", "show", "hold", "release", "requeue", "flush", "delete", "expire", "stats", "Exit codes", "ALL"})
        CHECK(help.out.find(word) != std::string::npos);
}

#if SPOOLCTL_WITH_DKIM
TEST_CASE("spoolctl dkim-key makes a key only its owner reads and prints its record in strings DNS takes, without a spool") {
    spool_test::temp_dir dir;
    const std::string key = dir.file("s1.pem");
    const auto r = spoolctl(dir, {"dkim-key", "--selector", "s1", "--domain", "a.test", key});
    REQUIRE(r.code == 0);
    const std::string head = "s1._domainkey.a.test. IN TXT ( \"v=DKIM1; k=rsa; p=";
    REQUIRE(r.out.rfind(head, 0) == 0);
    CHECK(r.out.substr(r.out.size() - 3) == " )\n");
    // The quoted strings, each at most 255 octets, joined, are the record.
    std::string joined;
    for (std::size_t at = r.out.find('"'); at != std::string::npos; at = r.out.find('"', at + 1)) {
        const std::size_t end = r.out.find('"', at + 1);
        REQUIRE(end != std::string::npos);
        CHECK(end - at - 1 <= 255);
        joined += r.out.substr(at + 1, end - at - 1);
        at = end;
    }
    REQUIRE(joined.rfind("v=DKIM1; k=rsa; p=", 0) == 0);
    // p= is the key's public half, as OpenSSL's own command gives it.
    const auto pub = spool_test::wait_for(spool_test::spawn("/bin/sh", {"-c", "openssl pkey -in " + key + " -pubout -outform DER | base64 -w0"}, {},
                                                            dir.file("pub.out"), dir.file("pub.err")));
    REQUIRE(pub.code == 0);
    CHECK(joined.substr(18) == contents_of(dir.file("pub.out")));
    struct stat st {};
    REQUIRE(::stat(key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    const auto again = spoolctl(dir, {"dkim-key", "--selector", "s1", "--domain", "a.test", key});
    CHECK(again.code == 3);
    CHECK_THAT(again.err, ContainsSubstring(key));

    const auto ed = spoolctl(dir, {"--json", "dkim-key", "--type", "ed25519", "--selector", "s2", "--domain", "a.test", dir.file("s2.pem")});
    REQUIRE(ed.code == 0);
    CHECK_THAT(ed.out, ContainsSubstring(R"("name":"s2._domainkey.a.test.")"));
    CHECK_THAT(ed.out, ContainsSubstring(R"("value":"v=DKIM1; k=ed25519; p=)"));

    CHECK(spoolctl(dir, {"dkim-key", "--type", "dsa", "--selector", "s", "--domain", "a.test", dir.file("x.pem")}).code == 2);
    CHECK(spoolctl(dir, {"dkim-key", "--bits", "512", "--selector", "s", "--domain", "a.test", dir.file("y.pem")}).code == 3);
}
#endif

#if SPOOLCTL_WITH_WEB
#include "support/http_client.hpp"

#include <csignal>

namespace {
namespace http = boost::beast::http;

http::response<http::string_body> ask_dashboard(unsigned short port, http::request<http::string_body> r) {
    return spool_test::ask_http({boost::asio::ip::make_address("127.0.0.1"), port}, std::move(r));
}
} // namespace

TEST_CASE("web-user adds an operator with a hashed password read from standard input, and refuses a bad role or name") {
    spool_test::temp_dir dir;
    const std::string users = dir.file("users");
    std::ofstream(dir.file("password")) << "correct horse\n";
    const auto added = spoolctl(dir, {"web-user", "add", "olga", "--role", "operator", "--users", users}, dir.file("password"));
    CHECK(added.code == 0);
    CHECK(added.out == "olga: can sign in as operator (" + users + ")\n");
    const std::string text = contents_of(users);
    CHECK(text.starts_with("olga:operator:$y$"));
    CHECK(text.find("correct horse") == std::string::npos);
    CHECK(spoolctl(dir, {"web-user", "add", "olga", "--role", "admin", "--users", users}, dir.file("password")).code == 2);
    CHECK(spoolctl(dir, {"web-user", "add", "o:lga", "--users", users}, dir.file("password")).code == 2);
    CHECK(spoolctl(dir, {"web-user", "remove", "nobody", "--users", users}).code == 1);
    CHECK(spoolctl(dir, {"web-user", "remove", "olga", "--users", users}).code == 0);
    CHECK(contents_of(users).empty());
}

TEST_CASE("web-token prints a new token once and keeps only its hash, and remove revokes it") {
    spool_test::temp_dir dir;
    const std::string users = dir.file("users");
    const auto added = spoolctl(dir, {"web-token", "add", "deploy-bot", "--role", "operator", "--users", users});
    CHECK(added.code == 0);
    REQUIRE(added.out.size() == 6 + 64 + 1);
    CHECK(added.out.starts_with("spool_"));
    const std::string text = contents_of(users);
    CHECK(text.starts_with("token:deploy-bot:operator:"));
    CHECK(text.find(added.out.substr(6, 64)) == std::string::npos);
    CHECK(spoolctl(dir, {"web-token", "add", "bad name", "--users", users}).code == 2);
    CHECK(spoolctl(dir, {"web-token", "remove", "deploy-bot", "--users", users}).code == 0);
    CHECK(spoolctl(dir, {"web-token", "remove", "deploy-bot", "--users", users}).code == 1);
}

TEST_CASE("serve refuses to start when nobody can sign in, on a malformed address or metrics URL, or with TLS files it cannot use") {
    spool_test::temp_dir dir;
    const std::string db = dir.file("spool.db");
    { spool::sqlite_store make(db); }
    const auto nobody = spoolctl(dir, {"--db", db, "serve", "--listen", "127.0.0.1:0"});
    CHECK(nobody.code == 3);
    CHECK(nobody.err.find("nobody can sign in") != std::string::npos);
    std::ofstream(dir.file("password")) << "pw\n";
    REQUIRE(spoolctl(dir, {"web-user", "add", "olga", "--users", db + ".users"}, dir.file("password")).code == 0);
    CHECK(spoolctl(dir, {"--db", db, "serve", "--listen", "localhost"}).code == 2);
    CHECK(spoolctl(dir, {"--db", db, "serve", "--listen", "127.0.0.1:0", "--tls-cert", dir.file("cert.pem")}).code == 2); // no key
    const auto missing = spoolctl(dir, {"--db", db, "serve", "--listen", "127.0.0.1:0", "--tls-cert", dir.file("cert.pem"), "--tls-key", dir.file("key.pem")});
    CHECK(missing.code == 3);
    CHECK(missing.err.find("cert.pem") != std::string::npos);
    const auto metrics = spoolctl(dir, {"--db", db, "serve", "--listen", "127.0.0.1:0", "--metrics-url", "https://127.0.0.1:9100/metrics"});
    CHECK(metrics.code == 2);
    CHECK(metrics.err.find("http://host[:port]/path") != std::string::npos);
}

TEST_CASE("serve answers on loopback: a user signs in and reads the queue's counts, until SIGTERM ends it") {
    spool_test::temp_dir dir;
    const std::string db = dir.file("spool.db");
    {
        spool::sqlite_store store(db);
        queue(store, "bob@b.test");
    }
    std::ofstream(dir.file("password")) << "pw for rita\n";
    REQUIRE(spoolctl(dir, {"web-user", "add", "rita", "--users", db + ".users"}, dir.file("password")).code == 0);
    const pid_t server = spool_test::spawn(SPOOLCTL, {"--db", db, "serve", "--listen", "127.0.0.1:0"}, {}, dir.file("serve.out"),
                                           dir.file("serve.err"));
    const std::string banner = "serving the dashboard at http://127.0.0.1:";
    REQUIRE(eventually([&] { return contents_of(dir.file("serve.out")).find("/\n") != std::string::npos; }));
    const std::string out = contents_of(dir.file("serve.out"));
    REQUIRE(out.find(banner) != std::string::npos);
    const auto port = static_cast<unsigned short>(std::stoi(out.substr(out.find(banner) + banner.size())));

    http::request<http::string_body> login{http::verb::post, "/login", 11};
    login.set(http::field::content_type, "application/x-www-form-urlencoded");
    login.body() = "user=rita&password=pw+for+rita";
    const auto in = ask_dashboard(port, login);
    REQUIRE(in.result() == http::status::see_other);
    const std::string cookie = std::string(in[http::field::set_cookie]).substr(0, std::string(in[http::field::set_cookie]).find(';'));
    http::request<http::string_body> counts{http::verb::get, "/api/counts", 11};
    counts.set(http::field::cookie, cookie);
    const auto answer = ask_dashboard(port, counts);
    CHECK(answer.result() == http::status::ok);
    CHECK(answer.body().starts_with("{\"total\":1,"));

    ::kill(server, SIGTERM);
    CHECK(spool_test::wait_for(server).code == 0);
}
#endif
