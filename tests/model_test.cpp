// The message model, errors, small policies, the concepts, and the in-memory
// store's own laws.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/spool.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

using namespace std::chrono_literals;
using spool_test::mail;
using spool_test::smtp;

TEST_CASE("errors are spool-category error codes with distinct messages") {
    const std::error_code no_recipients = spool::errc::no_recipients;
    CHECK(no_recipients.category().name() == std::string("spool"));
    CHECK(no_recipients == spool::errc::no_recipients);
    CHECK(no_recipients != spool::errc::unresolved_recipient);
    CHECK_THAT(no_recipients.message(), ContainsSubstring("no recipients"));
    CHECK_THAT(std::error_code(spool::errc::unable_to_abort).message(), ContainsSubstring("locked"));
    CHECK(std::error_code(spool::errc::not_in_queue).message() != std::error_code(spool::errc::submitted).message());
    std::set<std::string> messages;
    for (int e = static_cast<int>(spool::errc::no_recipients); e <= static_cast<int>(spool::errc::store_unavailable); ++e)
        messages.insert(std::error_code(static_cast<spool::errc>(e)).message());
    CHECK(messages.size() == static_cast<std::size_t>(spool::errc::store_unavailable));
    CHECK_FALSE(messages.contains("unknown spool error"));
}

TEST_CASE("result holds a value or an error, and value() throws the error") {
    spool::result<int> ok = 7;
    REQUIRE(ok);
    CHECK(*ok == 7);
    CHECK(!ok.error());

    spool::result<int> bad = spool::errc::not_found;
    CHECK(!bad);
    CHECK(bad.error() == spool::errc::not_found);
    CHECK_THROWS_AS(bad.value(), std::system_error);
}

namespace {
// Counts live copies so that the tests below see every value result
// constructs destroyed exactly once, whichever way it changes state.
struct counted {
    static inline int live = 0;
    static inline bool throw_on_copy = false;
    std::string text;
    explicit counted(std::string t) : text(std::move(t)) { ++live; }
    counted(const counted& other) : text(other.text) {
        if (throw_on_copy) throw std::runtime_error("copy refused");
        ++live;
    }
    counted(counted&& other) noexcept : text(std::move(other.text)) { ++live; }
    counted& operator=(const counted&) = default;
    counted& operator=(counted&&) = default;
    ~counted() { --live; }
};
} // namespace

TEST_CASE("result copies, moves and assigns between value and error without leaking or losing either") {
    counted::live = 0;
    {
        spool::result<counted> value = counted{"first"};
        spool::result<counted> error = spool::errc::not_found;
        CHECK(counted::live == 1);

        spool::result<counted> copy = value;
        spool::result<counted> moved = std::move(copy);
        CHECK(moved->text == "first");
        spool::result<counted> error_copy = error;
        CHECK(error_copy.error() == spool::errc::not_found);
        CHECK(counted::live == 3); // value, the moved-from copy, moved

        error_copy = value; // error -> value
        REQUIRE(error_copy);
        CHECK(error_copy->text == "first");
        CHECK(counted::live == 4);

        moved = error; // value -> error destroys the value
        CHECK(moved.error() == spool::errc::not_found);
        CHECK(counted::live == 3);

        error_copy = spool::result<counted>{counted{"second"}}; // value -> value
        CHECK(error_copy->text == "second");
        CHECK(counted::live == 3);

        counted::throw_on_copy = true;
        spool::result<counted> unchanged = spool::errc::no_access;
        CHECK_THROWS_AS(unchanged = value, std::runtime_error);
        counted::throw_on_copy = false;
        CHECK(unchanged.error() == spool::errc::no_access);
        CHECK(counted::live == 3);

        CHECK(std::move(value).value().text == "first");
    }
    CHECK(counted::live == 0);
}

TEST_CASE("result of a move-only type moves and is not copyable") {
    using handle = spool::result<std::unique_ptr<int>>;
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<handle>);
    STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<handle>);
    STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<handle>);
    handle h = std::make_unique<int>(5);
    handle moved = std::move(h);
    REQUIRE(moved);
    CHECK(**moved == 5);
    moved = handle{spool::errc::not_found};
    CHECK(moved.error() == spool::errc::not_found);
}

TEST_CASE("address types match exactly, and any() matches everything") {
    spool::address_types smtp_only{"SMTP"};
    CHECK(smtp_only.matches("SMTP"));
    CHECK_FALSE(smtp_only.matches("smtp"));
    CHECK_FALSE(smtp_only.matches("FAX"));
    CHECK_FALSE(smtp_only.catch_all());
    CHECK(spool::address_types::any().matches("X400"));
    CHECK(spool::address_types::any().catch_all());
}

TEST_CASE("address types compare every character, whatever their length") {
    // Lengths on each side of the word sizes the comparison works in.
    for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 15u, 16u, 17u, 24u, 31u}) {
        const std::string type(n, 'T');
        const spool::address_types types{type};
        CHECK(types.matches(type));
        CHECK_FALSE(types.matches(type + "T"));
        CHECK_FALSE(types.matches(type.substr(1)));
        for (std::size_t i = 0; i < n; ++i) {
            std::string other = type;
            other[i] = 't';
            CHECK_FALSE(types.matches(other));
        }
    }
    CHECK(spool::address_types{""}.matches(""));
    CHECK_FALSE(spool::address_types{""}.matches("X"));
    const spool::address_types several{"SMTP", "X400", "MOBILE-NUMBER"};
    CHECK(several.matches("X400"));
    CHECK(several.matches("MOBILE-NUMBER"));
    CHECK_FALSE(several.matches("MOBILE-NUMBEr"));
}

TEST_CASE("a new message is an unsent draft with the MAPI defaults") {
    spool::message m;
    CHECK(m.message_class == "IPM.Note");
    CHECK(spool::has(m.flags, spool::message_flags::unsent));
    CHECK_FALSE(m.submitted());
    CHECK(m.submission == spool::submit_flags::none);
    CHECK(m.priority == spool::message_priority::normal);
    CHECK(std::holds_alternative<spool::disposition::move_to>(m.sent_mail));
    CHECK_FALSE(m.reports.delivery);
    CHECK_FALSE(m.reports.non_delivery_suppressed);
    CHECK_FALSE(m.client_submit_time);
}

TEST_CASE("recipients are resolved when they have an address and a type") {
    CHECK(smtp("a@x").resolved());
    CHECK_FALSE(spool::recipient{"A", "", "SMTP"}.resolved());
    CHECK_FALSE(spool::recipient{"A", "a@x", ""}.resolved());
    spool::recipient r = smtp("a@x");
    CHECK_FALSE(r.settled());
    r.status = spool::status::deferred{};
    CHECK_FALSE(r.settled());
    r.status = spool::status::failed{"no", "5.0.0"};
    CHECK(r.settled());
}

TEST_CASE("exponential backoff doubles up to its maximum") {
    spool::exponential_backoff policy;
    CHECK(policy.backoff(1) == 300s);
    CHECK(policy.backoff(2) == 600s);
    CHECK(policy.backoff(3) == 1200s);
    CHECK(policy.backoff(10) == 4000s);
    CHECK(policy.max_lifetime() == std::chrono::hours(120));
}

TEST_CASE("a manual clock moves only when told, and copies share it") {
    spool::manual_clock clock;
    auto copy = clock;
    const auto t0 = clock.now();
    copy.advance(90s);
    CHECK(clock.now() - t0 == 90s);
}

// --- Concepts ----------------------------------------------------------------

namespace {
struct unrelated_type {};
struct store_without_tag : spool::memory_store {
    using spool_concept = void;
};
struct transport_missing_transmit {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return spool::address_types::any(); }
};
struct preprocessor_missing_types {
    using spool_concept = spool::preprocessor_tag;
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>&) { return spool::preprocess_result::ok(); }
};
// A type the user cannot edit, opted in from outside.
struct third_party_transport {
    spool::address_types address_types() const { return {"X400"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>&) { return spool::transmit_result::done(); }
};
} // namespace

template <>
inline constexpr bool spool::enable_transport<third_party_transport> = true;

TEST_CASE("the reference parts model their concepts") {
    STATIC_REQUIRE(spool::Store<spool::memory_store>);
    STATIC_REQUIRE(spool::Store<spool::memory_store_st>);
    STATIC_REQUIRE(spool::Transport<spool::memory_transport>);
    STATIC_REQUIRE(spool::Transport<spool_test::scripted_transport>);
    STATIC_REQUIRE(spool::Preprocessor<spool_test::logging_preprocessor>);
    STATIC_REQUIRE(spool::Clock<spool::manual_clock>);
    STATIC_REQUIRE(spool::Clock<spool::system_clock>);
    STATIC_REQUIRE(spool::RetryPolicy<spool::exponential_backoff>);
}

TEST_CASE("a type must opt in to a role, and must meet every requirement of it") {
    STATIC_REQUIRE_FALSE(spool::Store<unrelated_type>);
    STATIC_REQUIRE_FALSE(spool::Store<store_without_tag>);
    STATIC_REQUIRE_FALSE(spool::Transport<transport_missing_transmit>);
    STATIC_REQUIRE_FALSE(spool::Preprocessor<preprocessor_missing_types>);
    STATIC_REQUIRE(spool::Transport<third_party_transport>);
    STATIC_REQUIRE_FALSE(spool::Transport<spool::memory_store>);
}

TEST_CASE("an empty policy costs no space in the composed spooler") {
    // As Boost.SML checks it: the size of what is composed, with and without the policy.
    using bare = spool::spooler<spool::memory_store, spool::memory_transport>;
    using with_clock = spool::spooler<spool::memory_store, spool::memory_transport, spool::system_clock>;
    using with_retry = spool::spooler<spool::memory_store, spool::memory_transport, spool::exponential_backoff>;
    STATIC_REQUIRE(sizeof(with_clock) == sizeof(bare));
    // A policy with state does take space: the check can fail.
    STATIC_REQUIRE(sizeof(spool::spooler<spool::memory_store, spool::memory_transport, spool::manual_clock>) > sizeof(bare));
    (void)sizeof(with_retry);
}

// --- The in-memory store's own laws -------------------------------------------

TEST_CASE("memory store: operations on an unknown id fail with not_found") {
    spool::memory_store store;
    const spool::message_id nobody{42};
    CHECK(store.load(nobody).error() == spool::errc::not_found);
    CHECK(store.save(nobody, spool::message{}) == spool::errc::not_found);
    CHECK(store.enqueue(nobody, spool::message{}) == spool::errc::not_found);
    CHECK(store.abort_submit(nobody, spool::message{}) == spool::errc::not_found);
    CHECK(store.finish(nobody, spool::message{}) == spool::errc::not_found);
}

TEST_CASE("memory store: enqueue once, abort and finish only what is queued") {
    spool::memory_store store;
    auto id = store.create(spool::folders::outbox, mail({smtp("a@x")})).value();
    CHECK(store.abort_submit(id, spool::message{}) == spool::errc::not_in_queue);
    CHECK(store.finish(id, spool::message{}) == spool::errc::not_in_queue);
    REQUIRE_FALSE(store.enqueue(id, mail({smtp("a@x")})));
    CHECK(store.enqueue(id, mail({smtp("a@x")})) == spool::errc::already_submitted);
    CHECK(store.outgoing_queue().size() == 1);
    REQUIRE_FALSE(store.abort_submit(id, mail({smtp("a@x")})));
    CHECK(store.outgoing_queue().empty());
}

TEST_CASE("memory store: the queue is ordered by client submit time, ties by submit order") {
    spool::memory_store store;
    const spool::time_point t0{};
    auto enqueue_at = [&](spool::time_point t) {
        auto m = mail({smtp("a@x")});
        m.client_submit_time = t;
        auto id = store.create(spool::folders::outbox, m).value();
        REQUIRE_FALSE(store.enqueue(id, m));
        return id;
    };
    auto late = enqueue_at(t0 + 10s);
    auto early = enqueue_at(t0 + 1s);
    auto tie = enqueue_at(t0 + 10s);
    auto q = store.outgoing_queue();
    REQUIRE(q.size() == 3);
    CHECK(q[0].id == early);
    CHECK(q[1].id == late);
    CHECK(q[2].id == tie);
}

TEST_CASE("memory store: copies share one store, and the lock is never stored") {
    spool::memory_store store;
    auto copy = store;
    auto m = mail({smtp("a@x")});
    m.submission = spool::submit_flags::locked | spool::submit_flags::preprocess;
    auto id = store.create(spool::folders::outbox, m).value();
    REQUIRE_FALSE(copy.save(id, m));
    auto loaded = store.load(id).value();
    CHECK(loaded.submission == spool::submit_flags::preprocess);
    CHECK(loaded.id == id);
}

TEST_CASE("a recipient's status can be asked by name") {
    spool::recipient r{"Ann", "ann@x", "SMTP"};
    CHECK(r.is_pending());
    CHECK_FALSE(r.is_sent());
    r.status = spool::status::sent{};
    CHECK(r.is_sent());
    CHECK(r.settled());
    r.status = spool::status::deferred{};
    CHECK(r.is_deferred());
    CHECK_FALSE(r.settled());
    r.status = spool::status::failed{};
    CHECK(r.is_failed());
    CHECK_FALSE(r.is_pending());
}

TEST_CASE("a message id prints as its number, to a stream and through fmt's format_as") {
    std::ostringstream out;
    out << spool::message_id{42} << ' ' << spool::message_id{0};
    CHECK(out.str() == "42 0");
    CHECK(format_as(spool::message_id{7}) == 7u); // found by argument-dependent lookup, as fmt finds it
}

TEST_CASE("a recipient is found by address, without case, and by address type when given") {
    auto m = mail({smtp("Bob@Example.org"), spool_test::fax("+15550100"), {"Bob", "bob@example.org", "X400"}});
    REQUIRE(m.find_recipient("bob@example.org"));
    CHECK(m.find_recipient("bob@example.org")->address_type == "SMTP");
    CHECK(m.find_recipient("BOB@EXAMPLE.ORG", "X400")->address_type == "X400");
    CHECK(m.find_recipient("+15550100", "FAX") == &m.recipients[1]);
    CHECK(m.find_recipient("nobody@x") == nullptr);
    CHECK(m.find_recipient("bob@example.org", "FAX") == nullptr);
    const auto& frozen = m;
    frozen.find_recipient("bob@example.org");
    CHECK(frozen.find_recipient("+15550100")->kind == spool::recipient_kind::to);
}
