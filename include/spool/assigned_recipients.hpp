#pragma once

#include <spool/message.hpp>

#include <range/v3/range_fwd.hpp>

#include <compare>
#include <cstddef>
#include <iterator>
#include <span> // also declares std::ranges::view_base (libstdc++, libc++, MSVC); <ranges> would add ~170 ms of parsing

namespace spool {

/// The recipients of one hand-off (transmission::recipients()): the message's
/// recipient table seen through the indices assigned to the transport. A plain view rather than a
/// range-v3 adaptor, because every transport's body instantiates it; a view
/// to std and range-v3 alike, so their view adaptors take it by value.
class assigned_recipients : public ranges::view_base, public std::ranges::view_base {
public:
    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using iterator_concept = std::random_access_iterator_tag;
        using value_type = recipient;
        using difference_type = std::ptrdiff_t;
        using reference = const recipient&;
        using pointer = const recipient*;

        iterator() = default;
        iterator(const recipient* table, const std::size_t* at) noexcept : table_(table), at_(at) {}

        reference operator*() const noexcept { return table_[*at_]; }
        pointer operator->() const noexcept { return &table_[*at_]; }
        reference operator[](difference_type n) const noexcept { return table_[at_[n]]; }

        iterator& operator++() noexcept { return ++at_, *this; }
        iterator operator++(int) noexcept { return {table_, at_++}; }
        iterator& operator--() noexcept { return --at_, *this; }
        iterator operator--(int) noexcept { return {table_, at_--}; }
        iterator& operator+=(difference_type n) noexcept { return at_ += n, *this; }
        iterator& operator-=(difference_type n) noexcept { return at_ -= n, *this; }
        friend iterator operator+(iterator i, difference_type n) noexcept { return i += n; }
        friend iterator operator+(difference_type n, iterator i) noexcept { return i += n; }
        friend iterator operator-(iterator i, difference_type n) noexcept { return i -= n; }
        friend difference_type operator-(const iterator& a, const iterator& b) noexcept { return a.at_ - b.at_; }

        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.at_ == b.at_; }
        friend auto operator<=>(const iterator& a, const iterator& b) noexcept { return a.at_ <=> b.at_; }

    private:
        const recipient* table_ = nullptr;
        const std::size_t* at_ = nullptr;
    };

    assigned_recipients() = default;
    assigned_recipients(const recipient* table, std::span<const std::size_t> assigned) noexcept
        : table_(table), assigned_(assigned) {}

    iterator begin() const noexcept { return {table_, assigned_.data()}; }
    iterator end() const noexcept { return {table_, assigned_.data() + assigned_.size()}; }
    std::size_t size() const noexcept { return assigned_.size(); }
    bool empty() const noexcept { return assigned_.empty(); }

private:
    const recipient* table_ = nullptr;
    std::span<const std::size_t> assigned_;
};

} // namespace spool
