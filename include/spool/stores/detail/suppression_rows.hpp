#pragma once

// The suppression list's rows as both durable stores keep them: the key, the
// reason and code, when it was added and when it expires (in ns since the
// epoch; never_expires for none, so that "not expired" is one comparison an
// index can serve), and the message that caused it.

#include <spool/stores/detail/queue_columns.hpp>
#include <spool/suppression.hpp>

#include <cstdint>
#include <limits>

namespace spool::detail {

inline constexpr std::int64_t never_expires = std::numeric_limits<std::int64_t>::max();

inline std::int64_t stored_expiry(const suppression_entry& e) {
    return e.expires ? stored_nanoseconds(*e.expires) : never_expires;
}

/// The columns of a suppression_entry: address, reason, diagnostic, added, expires, source.
struct suppression_columns {
    int address, reason, diagnostic, added, expires, source;

    template <class Row>
    explicit suppression_columns(const Row& r)
        : address(r.column("address")), reason(r.column("reason")), diagnostic(r.column("diagnostic")),
          added(r.column("added")), expires(r.column("expires")), source(r.column("source")) {}

    template <class Row>
    suppression_entry read(const Row& r) const {
        suppression_entry e{r.text(address), r.text(reason), r.text(diagnostic), stored_time(r.integer(added)), {},
                            message_id{static_cast<std::uint64_t>(r.integer(source))}};
        if (const std::int64_t until = r.integer(expires); until != never_expires) e.expires = stored_time(until);
        return e;
    }
};

} // namespace spool::detail
