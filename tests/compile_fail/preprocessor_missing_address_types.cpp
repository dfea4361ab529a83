// expect: spool::Preprocessor: the preprocessor is missing `address_types`
#include <spool/spool.hpp>

struct signer {
    using spool_concept = spool::preprocessor_tag;
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>&) { return spool::preprocess_result::ok(); }
};

spool::spooler<spool::memory_store, spool::memory_transport, signer> sp;
