#pragma once

#include <concepts>
#include <system_error>
#include <utility>

namespace spool::detail {

/// Whether a store can make several operations one commit (it has `std::error_code batch(F)`).
template <class Store>
inline constexpr bool can_batch = requires(Store& store, void (&f)()) {
    { store.batch(f) } -> std::same_as<std::error_code>;
};

/// Runs f as one store commit where the store can batch (it has
/// `std::error_code batch(F)`, as the SQLite store does); elsewhere f just runs.
template <class Store, class F>
std::error_code in_one_commit(Store& store, F&& f) {
    if constexpr (can_batch<Store>)
        return store.batch(std::forward<F>(f));
    else
        return std::forward<F>(f)(), std::error_code{};
}

} // namespace spool::detail
