#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
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

private:
    address_types() = default;

    // Address types are a few characters long and asked about for every
    // recipient, so they are compared as two overlapping words of a fixed
    // size rather than with `a == b` (a memcmp call): `a == b` costs a message
    // 1.25 % more instructions (callgrind, benchmarks/instruction_counts.py),
    // over the 1 % a hand-written form must save to be kept.
    static bool equal(std::string_view a, std::string_view b) noexcept {
        const std::size_t n = a.size();
        if (n != b.size()) return false;
        const char* p = a.data();
        const char* q = b.data();
        if (n >= 8) {
            for (std::size_t i = 0; i + 8 < n; i += 8)
                if (word<std::uint64_t>(p + i) != word<std::uint64_t>(q + i)) return false;
            return word<std::uint64_t>(p + n - 8) == word<std::uint64_t>(q + n - 8);
        }
        if (n >= 4)
            return word<std::uint32_t>(p) == word<std::uint32_t>(q) &&
                   word<std::uint32_t>(p + n - 4) == word<std::uint32_t>(q + n - 4);
        if (n >= 2)
            return word<std::uint16_t>(p) == word<std::uint16_t>(q) &&
                   word<std::uint16_t>(p + n - 2) == word<std::uint16_t>(q + n - 2);
        return n == 0 || *p == *q;
    }
    template <class Word>
    static Word word(const char* p) noexcept {
        Word w;
        std::memcpy(&w, p, sizeof w);
        return w;
    }

    std::vector<std::string> types_;
    bool catch_all_ = true;
};

} // namespace spool
