// expect: spool::Store: the store is missing `save`
#include <spool/spool.hpp>
#include <spool/testing/store_conformance.hpp>

// check_store on a store that lacks an operation names that operation first.
struct my_store {
    using spool_concept = spool::store_tag;
    using message_type = spool::message;
    spool::result<spool::message_id> create(spool::folder_id, const spool::message&);
    spool::result<spool::message> load(spool::message_id) const;
    std::error_code enqueue(spool::message_id, const spool::message&);
    std::error_code abort_submit(spool::message_id, const spool::message&);
    std::error_code finish(spool::message_id, const spool::message&);
    std::vector<spool::queue_entry> outgoing_queue() const;
    std::vector<spool::message_id> contents(spool::folder_id) const;
};

auto failures = spool::testing::check_store([] { return my_store{}; });
