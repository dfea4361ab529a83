#pragma once

// The messages a batch created queued and has not written yet: their rows as
// columns, so that one statement writes many of them (unnest over arrays),
// in chunks that stay far below PostgreSQL's 1 GiB limit on one value.

#include <spool/postgres/detail/connection.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace spool::detail::postgres {

/// Ids a batch reserves at a time: a round trip per this many sends.
inline constexpr std::size_t id_block = 64;

/// What a queue row holds of a message when it is queued.
struct queued_row {
    std::int64_t submit_time = 0;
    std::int64_t submit_flags = 0;
    std::int64_t next_attempt = 0;
};

class kept_creates {
public:
    /// The rows one statement writes at most, and the bodies' bytes.
    static constexpr std::size_t chunk_rows = 1024;
    static constexpr std::size_t chunk_bytes = std::size_t{64} << 20;

    struct chunk {
        std::size_t first = 0;
        std::size_t size = 0;
    };

    void add(std::int64_t id, std::int64_t folder, std::string body, queued_row q) {
        ids_.push_back(id);
        folders_.push_back(folder);
        bodies_.push_back(std::move(body));
        submit_times_.push_back(q.submit_time);
        flags_.push_back(q.submit_flags);
        next_attempts_.push_back(q.next_attempt);
    }
    bool empty() const noexcept { return ids_.empty(); }

    /// The next rows to write (size 0: none left); at least one row, however large its body.
    chunk next_chunk() {
        chunk c{written_, 0};
        std::size_t bytes = 0;
        while (written_ < ids_.size() && c.size < chunk_rows && (c.size == 0 || bytes + bodies_[written_].size() <= chunk_bytes)) {
            bytes += bodies_[written_++].size();
            ++c.size;
        }
        return c;
    }

    /// The chunk's six arrays, in create_queued_all's order.
    params& bind(chunk c, params& p) const {
        const auto part = [&](const auto& column) { return std::span(column).subspan(c.first, c.size); };
        return p.integers(part(ids_))
            .integers(part(folders_))
            .byte_strings(part(bodies_))
            .integers(part(submit_times_))
            .integers(part(flags_))
            .integers(part(next_attempts_));
    }

    void clear() noexcept {
        ids_.clear();
        folders_.clear();
        bodies_.clear();
        submit_times_.clear();
        flags_.clear();
        next_attempts_.clear();
        written_ = 0;
    }

private:
    std::vector<std::int64_t> ids_, folders_, submit_times_, flags_, next_attempts_;
    std::vector<std::string> bodies_;
    std::size_t written_ = 0;
};

} // namespace spool::detail::postgres
