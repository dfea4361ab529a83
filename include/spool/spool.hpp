#pragma once

// What a program needs to run a spooler, in the order a user meets it: the
// model, the roles and their concepts, the client and the spooler, and the
// in-memory store and transport. Nothing optional: each optional part has its
// own header and target (<spool/sqlite.hpp>, <spool/postgres.hpp>,
// <spool/smtp.hpp>, <spool/ops/metrics.hpp>), and so do the queue's
// administration (<spool/administration.hpp>), the report renderer
// (<spool/mail/rfc3464.hpp>) and the testing kit (<spool/testing/...>).

#include <spool/version.hpp>

#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>

#include <spool/address_types.hpp>
#include <spool/events.hpp>
#include <spool/preprocessing.hpp>
#include <spool/receive_folders.hpp>
#include <spool/reception.hpp>
#include <spool/tags.hpp>
#include <spool/transmission.hpp>

#include <spool/concepts.hpp>
#include <spool/store_capabilities.hpp>

#include <spool/clock.hpp>
#include <spool/delay_warning.hpp>
#include <spool/retry.hpp>

#include <spool/client.hpp>
#include <spool/spooler.hpp>

#include <spool/stores/memory.hpp>
#include <spool/transports/memory.hpp>
