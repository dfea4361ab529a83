// Fuzz target: opening a hostile database file. The input is written as the
// database; opening it either fails with an error, or gives a store whose
// queue and folders can be listed and whose every message loads or is refused,
// all without a crash.

#include <spool/sqlite.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string dir = [] {
        char templ[] = "/tmp/spool-fuzz-XXXXXX";
        const char* made = ::mkdtemp(templ);
        if (!made) std::abort();
        return std::string(made);
    }();
    const std::string path = dir + "/spool.db";
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));

    spool::sqlite_options options;
    options.busy_timeout = std::chrono::milliseconds{0};
    auto store = spool::sqlite_store::open(path, options);
    if (!store) return 0;
    for (const auto& entry : store->outgoing_queue()) (void)store->load(entry.id);
    for (std::uint32_t folder = 1; folder <= 4; ++folder)
        for (auto id : store->contents(spool::folder_id{folder})) (void)store->load(id);
    (void)store->integrity_check();
    return 0;
}
