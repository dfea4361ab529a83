#pragma once

// DKIM signing (target spool::dkim): spool::dkim_signer, a preprocessor on
// libopendkim, and spool::dkim_dns_record for the record to publish.

#include <spool/dkim/key_maker.hpp>
#include <spool/dkim/signer.hpp>
