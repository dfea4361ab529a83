#pragma once

// Other processes in a test: start one, with its standard input and output
// from and to files if asked, and wait for its exit or for what it brings about.

#include "../catch.hpp"
#include "temp_dir.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace spool_test {

inline std::string contents_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

/// Starts `program` with `args`; standard input from `in`, output to `out`
/// and errors to `err` (files) where given, else the test's own.
inline pid_t spawn(const std::string& program, std::vector<std::string> args, const std::string& in = {},
                   const std::string& out = {}, const std::string& err = {}) {
    args.insert(args.begin(), program);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    if (!in.empty()) ::posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
    if (!out.empty()) ::posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!err.empty()) ::posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    return pid;
}

/// What a process that ended left: its exit code (-1 if a signal ended it) and its peak memory.
struct ended {
    int code = -1;
    long max_rss_kib = 0;
};
inline ended wait_for(pid_t pid) {
    int status = 0;
    rusage usage{};
    REQUIRE(::wait4(pid, &status, 0, &usage) == pid);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, usage.ru_maxrss};
}
inline int exit_code(pid_t pid) { return wait_for(pid).code; }

/// Waits for what another process brings about. The limit only keeps a broken
/// build from hanging; it is not a timing requirement.
template <class F>
bool eventually(F done, std::chrono::seconds limit = std::chrono::seconds{30}) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
    return true;
}

/// A spool peer (tests/processes/peer.cpp) running a spooler: started in
/// `mode` on `db`, appending what it sends to <dir>/deliveries, ready once it
/// wrote <dir>/<ready>; killed when the test ends.
struct running_peer {
    pid_t pid;
    running_peer(const std::string& program, const temp_dir& dir, const std::string& db, const std::string& mode = "run",
                 const std::string& ready = "ready")
        : pid(spawn(program, {mode, db, dir.file("deliveries"), dir.file(ready)})) {
        REQUIRE(eventually([&] { return std::filesystem::exists(dir.file(ready)); }));
    }
    running_peer(const running_peer&) = delete;
    running_peer& operator=(const running_peer&) = delete;
    ~running_peer() { kill(); }
    void kill() {
        if (pid == 0) return;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = 0;
    }
    /// Stops it (SIGSTOP) until resume(): alive, holding what it holds, doing
    /// nothing. Returns once every thread of it has stopped, so that nothing
    /// the test does next can race with it (kill() only sends the signal).
    void pause() {
        ::kill(pid, SIGSTOP);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, WUNTRACED) == pid);
        REQUIRE(WIFSTOPPED(status));
    }
    void resume() { ::kill(pid, SIGCONT); }
};

} // namespace spool_test
