#pragma once

// Operations (target spool::ops): the spooler's metrics, as OpenMetrics and
// Prometheus text.

#include <spool/ops/metrics.hpp>
