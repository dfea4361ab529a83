#pragma once

// The SQLite store's spooler lock: one spooler per database, across
// processes, by an exclusive flock on "<database>-spooler", a file that also
// names the holder's process id for the spooler that is refused.

#include <spool/error.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

namespace spool::detail::sqlite {

class spooler_lock {
public:
    /// No lock: what a store whose spoolers share the queue returns.
    spooler_lock() noexcept = default;
    spooler_lock(spooler_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    spooler_lock& operator=(spooler_lock&&) = delete;
    ~spooler_lock() {
        if (fd_ >= 0) ::close(fd_); // closing the last descriptor releases the flock
    }

    /// Takes the lock of the database at `database`, or throws std::system_error:
    /// errc::spool_in_use, naming the holder's process id, while another holds it.
    static spooler_lock take(const std::string& database) {
        const std::string lock_path = database + "-spooler";
        const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "spool: cannot open the spooler lock " + lock_path);
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            char pid[32] = {};
            const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
            std::string holder(pid, n > 0 ? static_cast<std::size_t>(n) : 0);
            while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
            ::close(fd);
            if (err != EWOULDBLOCK) throw std::system_error(err, std::generic_category(), "spool: cannot lock " + lock_path);
            throw std::system_error(errc::spool_in_use, "spool: " + database + " is already worked by the spooler in process " +
                                                            (holder.empty() ? std::string("(unknown)") : holder) +
                                                            " (lock file " + lock_path + ")");
        }
        const std::string pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
            // The lock holds without the note; only the message to a second spooler is poorer.
        }
        return spooler_lock{fd};
    }

    /// Whether a spooler holds the lock of the database at `database` now
    /// (this process's own too: a lock is held per open file).
    static bool held(const std::string& database) {
        const std::string lock_path = database + "-spooler";
        const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        const bool taken = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
        ::close(fd);
        return taken;
    }

private:
    explicit spooler_lock(int fd) noexcept : fd_(fd) {}
    int fd_ = -1;
};

} // namespace spool::detail::sqlite
