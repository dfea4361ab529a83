#pragma once

// Everything spool offers, in the order a user meets it.

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

#include <spool/clock.hpp>
#include <spool/retry.hpp>

#include <spool/client.hpp>
#include <spool/spooler.hpp>

#include <spool/rfc3464.hpp>
#include <spool/administration.hpp>
#include <spool/metrics.hpp>

#include <spool/stores/memory.hpp>
#include <spool/transports/memory.hpp>
