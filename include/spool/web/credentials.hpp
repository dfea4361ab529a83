#pragma once

// Who may open the dashboard (docs/web.md, "Users"): a file of users, each
// with a role and a password hashed by yescrypt (libcrypt's crypt_r), and of
// API tokens, each with a name, a role and the SHA-256 of the token, written
// only by its owner. spoolctl's `web-user` and `web-token` commands keep it.
// There is no anonymous access: a dashboard with no users lets nobody in.
//
// A token is 32 random bytes: guessing one is hopeless however fast the
// hash, so it is checked with one SHA-256, not with yescrypt's deliberate
// slowness, which every API call would pay.

#include <spool/web/detail/random.hpp>

#include <crypt.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace spool {

/// What a user may do: look (reader), or also act on messages (operator).
enum class web_role { reader, operator_ };

constexpr std::string_view to_string(web_role r) noexcept { return r == web_role::reader ? "reader" : "operator"; }

/// The role named `text` ("reader" or "operator"), or none.
inline std::optional<web_role> web_role_named(std::string_view text) {
    if (text == "reader") return web_role::reader;
    if (text == "operator") return web_role::operator_;
    return std::nullopt;
}

/// A file of users that cannot be read or written; its text says which and why.
struct web_credentials_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The dashboard's users, one per line (`name:role:hash`, the hash
/// yescrypt's), and its API tokens (`token:name:role:sha256`). Names are
/// letters, digits and `.`, `_`, `-`.
class web_credentials {
public:
    web_credentials() = default;

    /// Reads `path`; a file that does not exist is an empty set of users.
    /// Throws web_credentials_error for a file that cannot be read or has a
    /// malformed line (its number named).
    static web_credentials load(const std::string& path) {
        web_credentials c;
        std::ifstream in(path);
        if (!in) {
            if (errno == ENOENT) return c;
            throw web_credentials_error(path + ": " + std::strerror(errno));
        }
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            if (line.empty()) continue;
            std::vector<std::string> f;
            for (std::size_t at = 0;;) {
                const std::size_t colon = line.find(':', at);
                f.push_back(line.substr(at, colon - at));
                if (colon == std::string::npos) break;
                at = colon + 1;
            }
            const bool token = f.size() == 4 && f[0] == "token";
            if (token) f.erase(f.begin());
            const auto role = f.size() == 3 ? web_role_named(f[1]) : std::nullopt;
            if (!role || !valid_name(f[0]) || f[2].empty() || (token && f[2].size() != 64))
                throw web_credentials_error(path + ", line " + std::to_string(n) + ": not name:role:hash nor token:name:role:sha256");
            if (token) c.tokens_[f[2]] = {f[0], *role};
            else c.users_[f[0]] = {*role, f[2]};
        }
        return c;
    }

    /// Writes every user to `path`, readable and writable by its owner only,
    /// replacing the file in one rename. Throws web_credentials_error.
    void save(const std::string& path) const {
        const std::string temporary = path + ".new";
        const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) throw web_credentials_error(temporary + ": " + std::strerror(errno));
        std::ostringstream out;
        for (const auto& [name, user] : users_) out << name << ':' << to_string(user.role) << ':' << user.hash << '\n';
        for (const auto& [hash, t] : tokens_) out << "token:" << t.name << ':' << to_string(t.role) << ':' << hash << '\n';
        const std::string text = out.str();
        const bool written = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                             ::fsync(fd) == 0;
        const int saved_errno = errno;
        ::close(fd);
        if (!written || std::rename(temporary.c_str(), path.c_str()) != 0) {
            const int e = written ? errno : saved_errno;
            ::unlink(temporary.c_str());
            throw web_credentials_error(path + ": " + std::strerror(e));
        }
    }

    /// Adds the user, or replaces its password and role. Throws
    /// std::invalid_argument for a name that is not one or an empty password.
    void set_user(const std::string& name, std::string_view password, web_role role) {
        if (!valid_name(name)) throw std::invalid_argument("a user name is letters, digits, '.', '_' and '-': '" + name + "'");
        if (password.empty()) throw std::invalid_argument("the password is empty");
        users_[name] = {role, hash(password)};
    }
    /// Removes the user; false when there was none.
    bool remove_user(const std::string& name) { return users_.erase(name) > 0; }

    /// The user's role when `password` is theirs. Takes yescrypt's time
    /// whether or not the user exists, so that a wrong name is not told apart.
    std::optional<web_role> check(std::string_view name, std::string_view password) const {
        const auto it = users_.find(std::string(name));
        // A hash of nothing for unknown users, so that the time is the same.
        static const std::string decoy = hash("not a password");
        const std::string& stored = it == users_.end() ? decoy : it->second.hash;
        const std::string computed = crypt_with(password, stored);
        const bool same = !computed.empty() && computed.size() == stored.size() &&
                          detail::web::same_bytes(computed, stored);
        if (it == users_.end() || !same) return std::nullopt;
        return it->second.role;
    }

    /// A new API token for `name` (replacing that name's token), returned
    /// once: only its SHA-256 is kept. Throws std::invalid_argument for a
    /// name that is not one.
    std::string add_token(const std::string& name, web_role role) {
        if (!valid_name(name)) throw std::invalid_argument("a token name is letters, digits, '.', '_' and '-': '" + name + "'");
        remove_token(name);
        std::string token = "spool_" + detail::web::random_token(32);
        tokens_[sha256_hex(token)] = {name, role};
        return token;
    }
    /// Removes the token called `name`; false when there was none.
    bool remove_token(const std::string& name) {
        return std::erase_if(tokens_, [&](const auto& t) { return t.second.name == name; }) > 0;
    }
    /// The name and role of `token`, or none.
    std::optional<std::pair<std::string, web_role>> check_token(std::string_view token) const {
        const auto it = tokens_.find(sha256_hex(token));
        if (it == tokens_.end()) return std::nullopt;
        return std::pair{it->second.name, it->second.role};
    }

    /// Whether nobody can sign in or call the API.
    bool empty() const noexcept { return users_.empty() && tokens_.empty(); }
    std::size_t size() const noexcept { return users_.size(); }
    /// The role of a user, or none.
    std::optional<web_role> role_of(const std::string& name) const {
        const auto it = users_.find(name);
        return it == users_.end() ? std::nullopt : std::optional{it->second.role};
    }

    static bool valid_name(std::string_view name) {
        if (name.empty() || name.size() > 64) return false;
        for (char c : name)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
                return false;
        return true;
    }

private:
    struct user {
        web_role role;
        std::string hash;
    };
    struct token {
        std::string name;
        web_role role;
    };

    static std::string sha256_hex(std::string_view text) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (::EVP_Digest(text.data(), text.size(), digest, &n, ::EVP_sha256(), nullptr) != 1)
            throw std::runtime_error("SHA-256 is not available from OpenSSL");
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        for (unsigned int i = 0; i < n; ++i) (out += digits[digest[i] >> 4]) += digits[digest[i] & 15];
        return out;
    }

    // yescrypt with libcrypt's default cost, on a salt from the kernel's generator.
    static std::string hash(std::string_view password) {
        const std::string random = detail::web::random_bytes(32);
        char setting[CRYPT_GENSALT_OUTPUT_SIZE];
        if (!::crypt_gensalt_rn("$y$", 0, random.data(), static_cast<int>(random.size()), setting, sizeof setting))
            throw std::system_error(errno, std::generic_category(), "crypt_gensalt_rn");
        std::string out = crypt_with(password, setting);
        if (out.empty()) throw std::system_error(errno, std::generic_category(), "crypt_r");
        return out;
    }
    // Empty when crypt_r fails (a hash it does not know: the line was damaged).
    static std::string crypt_with(std::string_view password, const std::string& setting) {
        crypt_data data{};
        const std::string phrase(password);
        const char* out = ::crypt_r(phrase.c_str(), setting.c_str(), &data);
        if (!out || out[0] == '*') return {};
        return out;
    }

    std::map<std::string, user, std::less<>> users_;
    std::map<std::string, token, std::less<>> tokens_; // by the token's SHA-256
};

} // namespace spool
