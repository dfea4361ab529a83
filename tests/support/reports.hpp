#pragma once

// Helpers for the report tests: a message from a known sender, the reports a
// store received, and what Python's parsers make of a rendered report.

#include <spool/spool.hpp>

#include <cstdio>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

namespace spool_test {

inline spool::message from_ann(std::vector<spool::recipient> to, std::string subject = "quarterly figures") {
    spool::message m;
    m.recipients = std::move(to);
    m.payload.subject = std::move(subject);
    m.sender = {"Ann", "ann@x", "SMTP"};
    return m;
}

inline std::vector<spool::message> reports_in(const spool::memory_store& store,
                                              spool::folder_id folder = spool::folders::inbox) {
    std::vector<spool::message> out;
    for (auto id : store.contents(folder)) {
        auto m = store.load(id).value();
        if (m.report) out.push_back(m);
    }
    return out;
}

/// What tests/support/parse_dsn.py found in a rendered report, as JSON; empty
/// if Python failed. With `bounce`, GNU Mailman's detector is asked too.
inline std::string python_reads(const std::string& rendered, bool bounce = false) {
    static int counter = 0;
    // Named for this process: CTest runs several test processes in one directory.
    const std::string path = "spool-dsn-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".eml";
    std::ofstream(path, std::ios::binary) << rendered;
    const std::string command = std::string(SPOOL_TEST_PYTHON) + " " + SPOOL_TEST_SUPPORT_DIR + "/parse_dsn.py " +
                                (bounce ? "--bounce " : "") + path;
    std::FILE* pipe = popen(command.c_str(), "r");
    std::string json;
    if (!pipe) return json;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe)) json += buffer;
    const int status = pclose(pipe);
    std::remove(path.c_str());
    return status == 0 ? json : std::string{};
}

} // namespace spool_test
