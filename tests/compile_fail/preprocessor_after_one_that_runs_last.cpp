// expect: a preprocessor is composed after one that must run last
#include <spool/spool.hpp>

// A signer seals the message: another preprocessor after it would change
// what was signed.
struct sealing {
    using spool_concept = spool::preprocessor_tag;
    static constexpr bool spool_runs_last = true;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>&) { return spool::preprocess_result::ok(); }
};
struct stamping {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>&) { return spool::preprocess_result::ok(); }
};

spool::spooler<spool::memory_store, spool::memory_transport, sealing, stamping> sp;
