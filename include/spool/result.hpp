#pragma once

#include <spool/error.hpp>

#include <system_error>
#include <utility>
#include <variant>

namespace spool {

/// A value or the error_code that says why there is none. C++20 has no
/// std::expected; this is the subset spool needs, with the same spelling.
template <class T>
class result {
public:
    // Two overloads rather than one by value: a store's load() returns a copy
    // of a whole message, and a by-value parameter would move it once more.
    result(const T& value) : state_(std::in_place_index<0>, value) {}
    result(T&& value) : state_(std::in_place_index<0>, std::move(value)) {}
    result(std::error_code error) : state_(std::in_place_index<1>, error) {}
    result(errc error) : result(make_error_code(error)) {}

    bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The error; a default (success) error_code when there is a value.
    std::error_code error() const noexcept {
        return has_value() ? std::error_code{} : std::get<1>(state_);
    }

    /// The value; throws std::system_error with the error when there is none.
    T& value() & { return checked(), std::get<0>(state_); }
    const T& value() const& { return checked(), std::get<0>(state_); }
    T&& value() && { return checked(), std::get<0>(std::move(state_)); }

    T& operator*() & noexcept { return std::get<0>(state_); }
    const T& operator*() const& noexcept { return std::get<0>(state_); }
    T&& operator*() && noexcept { return std::get<0>(std::move(state_)); }
    T* operator->() noexcept { return &std::get<0>(state_); }
    const T* operator->() const noexcept { return &std::get<0>(state_); }

private:
    void checked() const {
        if (!has_value()) throw std::system_error(std::get<1>(state_));
    }

    std::variant<T, std::error_code> state_;
};

} // namespace spool
