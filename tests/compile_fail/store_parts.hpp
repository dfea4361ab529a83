#pragma once

// The store the must-not-compile tests start from: each test leaves out one
// operation (SPOOL_TEST_WITHOUT_<OPERATION>) or declares it the wrong way
// (SPOOL_TEST_WRONG_<OPERATION>); the rest is as the Store concept asks.
// Not a .cpp, so the test glob does not take it for a test.

#include <spool/spool.hpp>

#include <vector>

struct my_store {
    using spool_concept = spool::store_tag;
    using message_type = spool::message;
#if defined(SPOOL_TEST_WRONG_CREATE)
    spool::message_id create(spool::folder_id, const spool::message&); // a bare id, not a result
#elif !defined(SPOOL_TEST_WITHOUT_CREATE)
    spool::result<spool::message_id> create(spool::folder_id, const spool::message&);
#endif
#if defined(SPOOL_TEST_WRONG_LOAD)
    spool::result<spool::message> load(spool::message_id); // not const
#elif !defined(SPOOL_TEST_WITHOUT_LOAD)
    spool::result<spool::message> load(spool::message_id) const;
#endif
#if defined(SPOOL_TEST_WRONG_SAVE)
    bool save(spool::message_id, const spool::message&); // returns bool
#elif !defined(SPOOL_TEST_WITHOUT_SAVE)
    std::error_code save(spool::message_id, const spool::message&);
#endif
#if defined(SPOOL_TEST_WRONG_ENQUEUE)
    std::error_code enqueue(const spool::message&); // takes no id
#elif !defined(SPOOL_TEST_WITHOUT_ENQUEUE)
    std::error_code enqueue(spool::message_id, const spool::message&);
#endif
#if defined(SPOOL_TEST_WRONG_ABORT_SUBMIT)
    void abort_submit(spool::message_id, const spool::message&); // returns nothing
#elif !defined(SPOOL_TEST_WITHOUT_ABORT_SUBMIT)
    std::error_code abort_submit(spool::message_id, const spool::message&);
#endif
#if defined(SPOOL_TEST_WRONG_FINISH)
    std::error_code finish(spool::message_id); // takes no message
#elif !defined(SPOOL_TEST_WITHOUT_FINISH)
    std::error_code finish(spool::message_id, const spool::message&);
#endif
#if defined(SPOOL_TEST_WRONG_OUTGOING_QUEUE)
    std::vector<spool::message_id> outgoing_queue() const; // ids, not queue entries
#elif !defined(SPOOL_TEST_WITHOUT_OUTGOING_QUEUE)
    std::vector<spool::queue_entry> outgoing_queue() const;
#endif
#if defined(SPOOL_TEST_WRONG_CONTENTS)
    std::vector<spool::message_id> contents(spool::folder_id); // not const
#elif !defined(SPOOL_TEST_WITHOUT_CONTENTS)
    std::vector<spool::message_id> contents(spool::folder_id) const;
#endif
};
