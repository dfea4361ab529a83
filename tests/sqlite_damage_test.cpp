// The SQLite store against damage: a damaged file told from a foreign one, a
// schema version no spool wrote, a flipped byte in a stored message, a record
// from a newer spool, and a message too large for the store.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/sqlite_files.hpp"
#include "support/temp_dir.hpp"

#include <spool/mail/codec.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;
using spool_test::mail;
using spool_test::read_file;
using spool_test::raw_sql;
using spool_test::smtp;

namespace {

std::uint64_t number(spool::message_id id) { return static_cast<std::uint64_t>(id); }

// A spool with two queued messages, closed.
std::string spool_with_mail(const spool_test::temp_dir& dir) {
    const auto path = dir.file("spool.db");
    spool::sqlite_store store(path);
    spool::spooler sp{store, spool::memory_transport{}};
    REQUIRE(sp.client().send(mail({smtp("a@x")})));
    REQUIRE(sp.client().send(mail({smtp("b@x")})));
    return path;
}

} // namespace

TEST_CASE("a spool whose first page is damaged is reported as damaged, not as foreign, and left as it was") {
    spool_test::temp_dir dir;
    const auto path = spool_with_mail(dir);
    auto bytes = read_file(path);
    REQUIRE(bytes.size() > 4096);

    SECTION("the header's fields") {
        for (std::size_t i = 16; i < 100; ++i) bytes[i] = '\xee'; // page size, counters, schema cookie
    }
    SECTION("the whole first page, SQLite's own header with it") {
        for (std::size_t i = 0; i < 4096; ++i) bytes[i] = static_cast<char>(i * 7);
    }
    spool_test::write_file(path, bytes);
    const auto opened = spool::sqlite_store::open(path);
    REQUIRE_FALSE(opened);
    CHECK(opened.error() == spool::errc::damaged_store);
    CHECK_THAT(opened.error().message(), ContainsSubstring(".recover"));
    CHECK(read_file(path) == bytes);
}

TEST_CASE("a schema version no spool ever wrote is a schema error, and the file is left as it was") {
    spool_test::temp_dir dir;
    const auto path = spool_with_mail(dir);
    SECTION("below zero") { raw_sql(path, "UPDATE spool_schema SET version = -3"); }
    SECTION("zero, beside spool's tables") { raw_sql(path, "UPDATE spool_schema SET version = 0"); }
    SECTION("no version row") { raw_sql(path, "DELETE FROM spool_schema"); }
    const auto before = read_file(path);
    const auto opened = spool::sqlite_store::open(path);
    REQUIRE_FALSE(opened);
    CHECK(opened.error() == spool::errc::invalid_schema);
    CHECK(read_file(path) == before);
}

TEST_CASE_METHOD(spool_test::sqlite_rig, "a byte flipped inside a stored message is found on load, and the message is quarantined, not sent") {
    auto m = mail({smtp("ann@x")});
    m.payload.body = "pay 100 to account 12345";
    const auto id = sp.client().send(m).value();
    sp.client().send(mail({smtp("bob@x")}));

    auto body = spool_test::stored_body(path, number(id));
    const auto at = body.find("100");
    REQUIRE(at != std::string::npos);
    body[at] = '9'; // a flipped bit turned 100 into 900; every length still adds up
    spool_test::store_body(path, number(id), body);

    const auto report = sp.drain();
    CHECK(report.store_errors == 1);
    REQUIRE(transport.deliveries().size() == 1);
    CHECK(transport.deliveries()[0].address == "bob@x");
    CHECK(store.contents(spool::folders::quarantine) == std::vector<spool::message_id>{id});
    CHECK(sp.client().open(id).error() == spool::errc::corrupt_message);
}

TEST_CASE_METHOD(spool_test::sqlite_rig, "a message in a newer spool's format is left queued and untouched, not quarantined") {
    const auto id = sp.client().send(mail({smtp("ann@x")})).value();
    const std::string newer = spool_test::newer_format_body();
    spool_test::store_body(path, number(id), newer);

    sp.drain();
    CHECK(transport.deliveries().empty());
    CHECK(sp.stats().last_store_error == spool::errc::format_too_new);
    CHECK(store.load(id).error() == spool::errc::format_too_new);
    CHECK(store.contents(spool::folders::quarantine).empty());
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(spool_test::stored_body(path, number(id)) == newer);
}

TEST_CASE("a message larger than the store takes is refused before anything is written") {
    spool_test::temp_dir dir;
    spool::sqlite_options options;
    options.max_message_bytes = 8192; // through sqlite3_limit(SQLITE_LIMIT_LENGTH)
    spool::sqlite_store store(dir.file("spool.db"), options);
    spool::memory_transport transport;
    spool::spooler sp{store, transport};
    auto client = sp.client();

    auto big = mail({smtp("big@x")});
    SECTION("well over the limit: refused before any statement runs") { big.payload.body.assign(20000, 'x'); }
    SECTION("the blob fits, the row does not: refused by SQLite, with the same error") {
        big.payload.body.assign(8000, 'x');
        big.payload.body.append(8190 - spool::encode(big).size(), 'x'); // encoded: 8190 bytes, the row a few more
        REQUIRE(spool::encode(big).size() == 8190);
    }
    const auto sent = client.send(big);
    REQUIRE_FALSE(sent);
    CHECK(sent.error() == spool::errc::message_too_large);
    const auto created = client.create(big);
    REQUIRE_FALSE(created);
    CHECK(created.error() == spool::errc::message_too_large);
    CHECK(store.outgoing_queue().empty());
    CHECK(store.contents(spool::folders::outbox).empty());

    // A draft that grows past the limit keeps what it had.
    auto small = mail({smtp("small@x")});
    const auto id = client.create(small).value();
    auto grown = small;
    grown.payload.body.assign(20000, 'y');
    CHECK(client.save(id, grown) == spool::errc::message_too_large);
    CHECK(store.load(id)->payload.body.empty());
    CHECK_FALSE(store.integrity_check());
}

TEST_CASE("an outcome too large to record pauses that message alone, and it is not handed off once a second") {
    spool_test::temp_dir dir;
    spool::sqlite_options options;
    options.max_message_bytes = 4096;
    spool::sqlite_store store(dir.file("spool.db"), options);
    spool::manual_clock clock;
    int handed_off = 0;
    spool_test::scripted_transport transport({"SMTP"}, [&](spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            ++handed_off;
            if (r.address == "poison@x") tx.failed(r, std::string(5000, 'r')); // the reason makes the message too large
            else tx.sent(r);
        }
        return spool::transmit_result::done();
    });
    spool::spooler sp{store, transport, clock};
    REQUIRE(sp.client().send(mail({smtp("poison@x")})));
    for (int second = 0; second < 64; ++second) {
        if (second % 8 == 0) REQUIRE(sp.client().send(mail({smtp("fine" + std::to_string(second) + "@x")})));
        clock.advance(1s);
        sp.run_once();
    }
    CHECK(sp.stats().last_store_error == spool::errc::message_too_large);
    CHECK(sp.stats().messages_finished == 8); // every other message went out on time
    CHECK(store.outgoing_queue().size() == 1);
    CHECK(handed_off - 8 <= 8); // the poisoned one: 1, 2, 4, ... s apart, not 64 times
}
