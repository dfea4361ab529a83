// A real full disk (ENOSPC) under the SQLite store: the spooler stops handing
// off while outcomes cannot be written, backs off, probes with a write, and
// goes on when the disk has room again. The test mounts a small tmpfs in a
// mount namespace of its own, so the mount ends with the process; it needs
// root (CI runs as root), and fails, rather than skips, where it cannot mount.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

using namespace std::chrono_literals;
using spool_test::mail;
using spool_test::smtp;

namespace {

// A tmpfs of `size` mounted on a fresh directory, seen by this process only.
class small_disk {
public:
    explicit small_disk(const char* size) {
        static const bool isolated = [] {
            INFO("unshare(CLONE_NEWNS): " << std::strerror(errno));
            REQUIRE(::unshare(CLONE_NEWNS) == 0);
            REQUIRE(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
            return true;
        }();
        (void)isolated;
        const std::string options = std::string("size=") + size;
        INFO("mount tmpfs: " << std::strerror(errno));
        REQUIRE(::mount("tmpfs", dir_.file("").c_str(), "tmpfs", 0, options.c_str()) == 0);
    }
    small_disk(const small_disk&) = delete;
    small_disk& operator=(const small_disk&) = delete;
    ~small_disk() { ::umount2(dir_.file("").c_str(), MNT_DETACH); }

    std::string file(const std::string& name) const { return dir_.file(name); }

    /// Writes a file until the disk is full.
    void fill() {
        std::FILE* f = std::fopen(file("filler").c_str(), "wb");
        REQUIRE(f);
        const std::string block(4096, 'f');
        while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {}
        std::fclose(f);
    }
    void make_room() { REQUIRE(std::remove(file("filler").c_str()) == 0); }
    /// Gives the disk a new size, what it holds kept.
    void grow(const char* size) {
        const std::string options = std::string("size=") + size;
        const int rc = ::mount("tmpfs", dir_.file("").c_str(), "tmpfs", MS_REMOUNT, options.c_str());
        INFO("remount tmpfs: " << std::strerror(errno));
        REQUIRE(rc == 0);
    }

private:
    spool_test::temp_dir dir_;
};

// Each of `messages` recipients was handed off exactly once.
void each_once(const spool::memory_transport& transport, int messages) {
    std::map<std::string, int> per_recipient;
    for (const auto& d : transport.deliveries()) ++per_recipient[d.address];
    CHECK(per_recipient.size() == static_cast<std::size_t>(messages));
    for (const auto& [address, times] : per_recipient) {
        INFO(address);
        CHECK(times == 1);
    }
}

} // namespace

TEST_CASE("on a full disk the spooler stops handing off, backs off, and sends again only after a write works") {
    small_disk disk("2m");
    spool::sqlite_store store(disk.file("spool.db"));
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    auto client = sp.client();
    constexpr int messages = 29;
    for (int i = 0; i < messages; ++i) {
        auto m = mail({smtp("r" + std::to_string(i) + "@x")});
        m.payload.body.assign(2000, 'b');
        REQUIRE(client.send(m));
    }

    disk.fill();
    sp.drain(); // hands each off once; the outcomes cannot be written
    CHECK(transport.deliveries().size() == messages);
    CHECK(sp.stats().last_store_error.category() == spool::sqlite_category());
    CHECK(store.outgoing_queue().size() == messages);

    // Five minutes of a full disk, a pass every second: no hand-off at all,
    // and the store is asked less and less often.
    const auto errors_before = sp.stats().store_errors;
    for (int second = 0; second < 300; ++second) {
        clock.advance(1s);
        sp.run_once();
    }
    CHECK(transport.deliveries().size() == messages);
    const auto probes = sp.stats().store_errors - errors_before;
    CHECK(probes >= 4);  // it does look again
    CHECK(probes <= 12); // 1, 2, 4, ... 64 s apart, not once a second
    CHECK(sp.locked_count() == static_cast<std::size_t>(messages)); // their outcomes, kept to be written

    disk.make_room();
    clock.advance(2min);
    sp.drain();
    CHECK(sp.stats().messages_finished == messages);
    CHECK(store.outgoing_queue().empty());
    CHECK(sp.locked_count() == 0);
    CHECK_FALSE(store.integrity_check());
    // Each recipient once: the outcomes kept in memory were written once the disk had room.
    each_once(transport, messages);
}

TEST_CASE("on a disk the spool itself filled, each message is handed off once, not again at each probe") {
    small_disk disk("1m");
    spool::sqlite_store store(disk.file("spool.db"));
    spool::memory_transport transport;
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    auto client = sp.client();
    // Queued until the disk is full: the spool's own writes fill it.
    int messages = 0;
    for (;; ++messages) {
        auto m = mail({smtp("r" + std::to_string(messages) + "@x")});
        m.payload.body.assign(4000, 'b');
        if (!client.send(m)) break;
    }
    REQUIRE(messages > 10);

    // Thirty seconds of passes, a second apart: each message goes out once,
    // and its outcome, which cannot be written, is not a reason to send it
    // again (a one-message probe write fits where the group's does not).
    for (int second = 0; second < 30; ++second) {
        sp.run_once();
        clock.advance(1s);
    }
    INFO(messages << " queued, " << transport.deliveries().size() << " hand-offs");
    CHECK(transport.deliveries().size() == static_cast<std::size_t>(messages));

    disk.grow("8m");
    clock.advance(2min);
    sp.drain();
    CHECK(sp.stats().messages_finished == static_cast<std::size_t>(messages));
    CHECK(store.outgoing_queue().empty());
    each_once(transport, messages);
}
