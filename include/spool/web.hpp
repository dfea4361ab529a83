#pragma once

// spool::web: the web dashboard (docs/web.md). Link spool::web.

#include <spool/web/activity.hpp>
#include <spool/web/credentials.hpp>
#include <spool/web/dashboard.hpp>
#include <spool/web/metrics_feed.hpp>
#include <spool/web/server.hpp>
