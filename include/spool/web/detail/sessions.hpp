#pragma once

// Signed-in browsers, and failed sign-ins. A session is a random id in a
// cookie, kept in memory (a restart signs everyone out), with its user, role,
// CSRF token and expiry. Failed sign-ins are counted per client address and
// per user name: from the third, each makes the next attempt wait twice as
// long, up to five minutes, so that guessing is slow while a typo is not.

#include <spool/web/credentials.hpp>
#include <spool/web/detail/random.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace spool::detail::web {

struct session {
    std::string user;
    web_role role = web_role::reader;
    std::string csrf;
    std::chrono::steady_clock::time_point expires;
};

class session_book {
public:
    using clock = std::chrono::steady_clock;

    explicit session_book(std::chrono::seconds lifetime) : lifetime_(lifetime) {}

    /// A new session's id.
    std::string open(const std::string& user, web_role role) {
        std::lock_guard g{mutex_};
        forget_expired();
        std::string id = random_token();
        sessions_[id] = {user, role, random_token(), clock::now() + lifetime_};
        return id;
    }
    /// The live session `id` names, or none.
    std::optional<session> find(std::string_view id) const {
        std::lock_guard g{mutex_};
        const auto it = sessions_.find(id);
        if (it == sessions_.end() || it->second.expires <= clock::now()) return std::nullopt;
        return it->second;
    }
    void close(std::string_view id) {
        std::lock_guard g{mutex_};
        if (const auto it = sessions_.find(id); it != sessions_.end()) sessions_.erase(it);
    }
    std::chrono::seconds lifetime() const noexcept { return lifetime_; }

    /// How long a sign-in from `address` as `user` must still wait; zero when it may be tried.
    std::chrono::seconds wait_before_sign_in(const std::string& address, const std::string& user) const {
        std::lock_guard g{mutex_};
        const auto now = clock::now();
        auto left = [&](const std::string& key) {
            const auto it = failures_.find(key);
            if (it == failures_.end() || it->second.blocked_until <= now) return std::chrono::seconds{0};
            return std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now);
        };
        return std::max(left("a " + address), left("u " + user));
    }
    void failed_sign_in(const std::string& address, const std::string& user) {
        std::lock_guard g{mutex_};
        for (const std::string& key : {"a " + address, "u " + user}) {
            auto& f = failures_[key];
            if (++f.count >= 3) {
                const auto wait = std::chrono::seconds{1 << std::min<unsigned>(f.count - 3, 8)};
                f.blocked_until = clock::now() + std::min<std::chrono::seconds>(wait, std::chrono::minutes{5});
            }
        }
        if (failures_.size() > 100000) failures_.clear(); // memory stays bounded; the throttle restarts
    }
    void signed_in(const std::string& address, const std::string& user) {
        std::lock_guard g{mutex_};
        failures_.erase("a " + address);
        failures_.erase("u " + user);
    }

private:
    void forget_expired() {
        const auto now = clock::now();
        std::erase_if(sessions_, [&](const auto& s) { return s.second.expires <= now; });
    }

    struct failure {
        unsigned count = 0;
        clock::time_point blocked_until{};
    };

    std::chrono::seconds lifetime_;
    mutable std::mutex mutex_;
    std::map<std::string, session, std::less<>> sessions_;
    std::map<std::string, failure> failures_;
};

} // namespace spool::detail::web
