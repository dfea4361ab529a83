#pragma once

#include <algorithm>
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
        return catch_all_ || std::find(types_.begin(), types_.end(), type) != types_.end();
    }

    /// The listed types; empty for the catch-all.
    const std::vector<std::string>& listed() const noexcept { return types_; }

private:
    address_types() = default;

    std::vector<std::string> types_;
    bool catch_all_ = true;
};

} // namespace spool
