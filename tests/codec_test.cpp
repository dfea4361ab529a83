// The stored form of a message: every earlier format still decodes, a newer
// one is refused, damage is detected, and decoding is linear in its input.

#include "catch.hpp"
#include "support/format_fixtures.hpp"

#include <spool/mail/codec.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <fstream>
#include <iterator>
#include <string>

namespace {

const std::filesystem::path fixtures_dir = SPOOL_TEST_FIXTURES_DIR;

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

// Run once by hand when the format changes: it writes the current format's fixtures.
TEST_CASE("write the current format's fixtures", "[.write-fixtures]") {
    const auto dir = fixtures_dir / ("format-" + std::to_string(spool::detail::message_format));
    std::filesystem::create_directories(dir);
    for (const auto& [name, m] : spool_test::format_fixtures())
        std::ofstream(dir / (name + ".bin"), std::ios::binary) << spool::encode(m);
    SUCCEED("wrote " << dir);
}

// Counts the bytes this test binary holds allocated, and the most it held, so
// a test can check that decoding costs memory in proportion to its input.
// The sanitizers bring their own allocator, which this would fight: there the
// memory tests check what decoding returns, and the plain builds check the bound.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPOOL_TEST_COUNTS_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SPOOL_TEST_COUNTS_ALLOCATIONS 0
#endif
#endif
#ifndef SPOOL_TEST_COUNTS_ALLOCATIONS
#define SPOOL_TEST_COUNTS_ALLOCATIONS 1
#endif

namespace {
std::atomic<std::size_t> allocated{0}, peak{0};
} // namespace
#if SPOOL_TEST_COUNTS_ALLOCATIONS
void* operator new(std::size_t n) {
    void* p = std::malloc(n + sizeof(std::max_align_t));
    if (!p) throw std::bad_alloc();
    *static_cast<std::size_t*>(p) = n;
    const std::size_t now = allocated.fetch_add(n) + n;
    for (std::size_t seen = peak.load(); now > seen && !peak.compare_exchange_weak(seen, now);) {}
    return static_cast<char*>(p) + sizeof(std::max_align_t);
}
void operator delete(void* p) noexcept {
    if (!p) return;
    char* block = static_cast<char*>(p) - sizeof(std::max_align_t);
    allocated.fetch_sub(*reinterpret_cast<std::size_t*>(block));
    std::free(block);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
#endif

TEST_CASE("every format a spool ever wrote still decodes to the same message") {
    const auto expected = spool_test::format_fixtures();
    int formats = 0;
    for (std::uint64_t format = 1; format <= spool::detail::message_format; ++format) {
        const auto dir = fixtures_dir / ("format-" + std::to_string(format));
        INFO("format " << format);
        REQUIRE(std::filesystem::is_directory(dir));
        ++formats;
        for (const auto& [name, m] : expected) {
            INFO(name);
            const auto decoded = spool::decode<spool::mail_payload>(read_file(dir / (name + ".bin")));
            REQUIRE(decoded.has_value());
            CHECK(*decoded == m);
        }
    }
    CHECK(formats == static_cast<int>(spool::detail::message_format));
}

TEST_CASE("the current format is what the newest fixtures hold, so a format change needs new fixtures") {
    const auto dir = fixtures_dir / ("format-" + std::to_string(spool::detail::message_format));
    for (const auto& [name, m] : spool_test::format_fixtures()) {
        INFO(name);
        CHECK(spool::encode(m) == read_file(dir / (name + ".bin")));
    }
}

TEST_CASE("a whole record of a newer format is refused as too new, a damaged one as corrupt") {
    // A newer format keeps the checksum trailer every format since 2 has.
    std::string record(1, static_cast<char>(spool::detail::message_format + 1));
    record += "whatever a later spool writes";
    const std::uint32_t sum = spool::detail::crc32c(record);
    for (int i = 0; i < 4; ++i) record += static_cast<char>((sum >> (8 * i)) & 0xff);
    const auto newer = spool::decode<spool::mail_payload>(record);
    REQUIRE_FALSE(newer.has_value());
    CHECK(newer.error() == spool::errc::format_too_new);

    record[3] ^= 0x10;
    const auto damaged = spool::decode<spool::mail_payload>(record);
    REQUIRE_FALSE(damaged.has_value());
    CHECK(damaged.error() == spool::errc::corrupt_message);
    const auto garbage = spool::decode<spool::mail_payload>("not a message");
    REQUIRE_FALSE(garbage.has_value());
    CHECK(garbage.error() == spool::errc::corrupt_message);
}

TEST_CASE("a flipped bit anywhere in a record is found by its checksum") {
    const auto bytes = spool::encode(spool_test::format_fixtures()[1].second);
    int found = 0, tried = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            auto damaged = bytes;
            damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
            ++tried;
            const auto decoded = spool::decode<spool::mail_payload>(damaged);
            if (!decoded && decoded.error() == spool::errc::corrupt_message) ++found;
        }
    CHECK(found == tried);
}

TEST_CASE("bytes that are no record are corrupt") {
    for (std::string bad : {std::string{}, std::string(1, '\0'), std::string("\x02", 1), std::string("\x02\x01\x02\x03", 4)}) {
        const auto decoded = spool::decode<spool::mail_payload>(bad);
        REQUIRE_FALSE(decoded.has_value());
        CHECK(decoded.error() == spool::errc::corrupt_message);
    }
}

TEST_CASE("a count that claims more items than the record holds costs no more memory than the record") {
    // A format-1 record (no checksum to get past): an envelope whose recipient
    // count claims every byte that follows is a recipient, then 1 MiB of bytes
    // that end in the middle of one.
    spool::byte_writer w;
    w.unsigned_number(1);          // format
    w.unsigned_number(7);          // id
    w.string("IPM.Note");          // class
    const std::size_t tail = 1 << 20;
    w.unsigned_number(tail);       // recipients: one per byte left
    std::string record = w.take() + std::string(tail, '\x01'); // each recipient would need more than one byte
    const std::size_t before = allocated.load();
    peak.store(before);
    const auto decoded = spool::decode<spool::mail_payload>(record);
    CHECK_FALSE(decoded.has_value());
    if (SPOOL_TEST_COUNTS_ALLOCATIONS) CHECK(peak.load() - before < 64 * record.size());
}

TEST_CASE("a long run of valid items decodes, in memory proportional to the record") {
    spool::byte_writer w;
    w.unsigned_number(1);
    w.unsigned_number(7);
    w.string("IPM.Note");
    const std::size_t n = 100'000;
    w.unsigned_number(n);
    std::string record = w.take() + std::string(n * spool::detail::min_recipient_bytes, '\0'); // each a pending recipient
    const std::size_t before = allocated.load();
    peak.store(before);
    const auto decoded = spool::decode<spool::mail_payload>(record);
    CHECK_FALSE(decoded.has_value()); // the envelope ends where the recipients do
    if (SPOOL_TEST_COUNTS_ALLOCATIONS) CHECK(peak.load() - before < 64 * record.size());
}

TEST_CASE("the checksum is CRC-32C, the same from the processor's instruction and from the tables") {
    CHECK(spool::detail::crc32c("123456789") == 0xe3069283u); // the standard check value
    CHECK(spool::detail::crc32c("") == 0u);
    std::string bytes;
    for (int i = 0; i < 1000; ++i) {
        bytes += static_cast<char>(i * 31 + 7);
        CHECK(spool::detail::crc32c(bytes) == spool::detail::crc32c_tables_sum(bytes));
    }
}

TEST_CASE("what a delayed-delivery report needs is kept: the marks, the request, the kind and Will-Retry-Until") {
    spool::message m = spool_test::format_fixtures()[1].second;
    m.recipients[2].delay_reported = true;
    m.recipients[2].reports = spool::report_requests{false, false, true};
    m.reports.delay_suppressed = true;
    spool::message report = spool_test::format_fixtures()[2].second;
    report.report->kind = spool::report_kind::delayed;
    report.report->entries[0].will_retry_until = spool_test::at(1'700'400'000);
    report.report->entries[1].action = spool::delivery_action::relayed;
    for (const auto& original : {m, report}) {
        const auto decoded = spool::decode<spool::mail_payload>(spool::encode(original));
        REQUIRE(decoded.has_value());
        CHECK(*decoded == original);
    }
}
