#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace spool {

/// The address types a transport handles, or that a preprocessor is registered
/// for (MAPI: IXPLogon::AddressTypes). A recipient matches when its address
/// type equals one of them exactly, as the MAPI reference specifies. `any()`
/// is the catch-all (MAPI's NULL array): it matches every recipient, and the
/// spooler offers recipients to catch-all transports only after every exact match.
class address_types {
public:
    /// Matches every address type.
    static address_types any() { return address_types{}; }

    address_types(std::initializer_list<std::string_view> types) : catch_all_(false) {
        types_.assign(types.begin(), types.end());
    }
    explicit address_types(std::vector<std::string> types) : types_(std::move(types)), catch_all_(false) {}

    bool catch_all() const noexcept { return catch_all_; }

    bool matches(std::string_view type) const noexcept {
        if (catch_all_) return true;
        for (const std::string& t : types_)
            if (equal(t, type)) return true;
        return false;
    }

    /// The listed types; empty for the catch-all.
    const std::vector<std::string>& listed() const noexcept { return types_; }

private:
    address_types() = default;

    // Address types are a few characters long and asked about for every
    // recipient; a plain loop beats a call to memcmp here.
    static bool equal(std::string_view a, std::string_view b) noexcept {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a[i] != b[i]) return false;
        return true;
    }

    std::vector<std::string> types_;
    bool catch_all_ = true;
};

} // namespace spool
