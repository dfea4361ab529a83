#pragma once

#include <exception>
#include <string>
#include <utility>

namespace spool::detail {

/// Calls a user's policy. An exception from it becomes `on_throw(what)`, so
/// one throwing store hook, transport or observer never stops the spooler.
template <class F, class OnThrow>
auto guarded(F&& f, OnThrow&& on_throw) -> decltype(std::forward<F>(f)()) {
    try {
        return std::forward<F>(f)();
    } catch (const std::exception& e) {
        return std::forward<OnThrow>(on_throw)(std::string(e.what()));
    } catch (...) {
        return std::forward<OnThrow>(on_throw)(std::string("an unknown exception"));
    }
}

} // namespace spool::detail
