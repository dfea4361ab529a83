// expect: spool::Store: the store has `create`, but not as spool calls it
#include <spool/spool.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

// A store whose create returns a bare id, not a result.
struct my_store {
    using spool_concept = spool::store_tag;
    using message_type = spool::message;
    spool::message_id create(spool::folder_id, const spool::message&);
    spool::result<spool::message> load(spool::message_id) const;
    std::error_code save(spool::message_id, const spool::message&);
    std::error_code enqueue(spool::message_id, const spool::message&);
    std::error_code abort_submit(spool::message_id, const spool::message&);
    std::error_code finish(spool::message_id, const spool::message&);
    std::vector<spool::queue_entry> outgoing_queue() const;
    std::vector<spool::message_id> contents(spool::folder_id) const;
};

spool::spooler<my_store, spool::memory_transport> sp;
