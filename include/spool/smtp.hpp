#pragma once

// The SMTP transport (target spool::smtp): the transport, its options and
// routes, its message renderer, and MX lookups through the system resolver.

#include <spool/smtp/dns.hpp>
#include <spool/smtp/envelope_id.hpp>
#include <spool/smtp/message.hpp>
#include <spool/smtp/options.hpp>
#include <spool/smtp/report_reader.hpp>
#include <spool/smtp/route.hpp>
#include <spool/smtp/transport.hpp>
