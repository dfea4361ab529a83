#pragma once

#include <spool/store_capabilities.hpp>

#include <system_error>
#include <utility>

namespace spool::detail {

/// Runs f as one store commit where the store can batch (BatchingStore, as the
/// SQLite store is); elsewhere f just runs.
template <class Store, class F>
std::error_code in_one_commit(Store& store, F&& f) {
    if constexpr (BatchingStore<Store>)
        return store.batch(std::forward<F>(f));
    else
        return std::forward<F>(f)(), std::error_code{};
}

} // namespace spool::detail
