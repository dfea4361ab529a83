#pragma once

#include <spool/message.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace spool {

/// Which folder an incoming message goes to, by message class (MAPI:
/// SetReceiveFolder/GetReceiveFolder). The longest associated class that is a
/// prefix of the message's class, at a '.' boundary and without case, wins:
/// "IPM.Note.Sample.Simple" goes to the folder of "IPM.Note.Sample". The empty
/// class is the default and always exists (the inbox unless changed), so
/// reports go to the inbox unless a "Report..." class is associated.
class receive_folders {
public:
    receive_folders() { table_[""] = folders::inbox; }

    void associate(std::string_view message_class, folder_id folder) {
        std::lock_guard g{mutex_};
        table_[key(message_class)] = folder;
    }

    /// Removes an association; the default one ("") cannot be removed. Returns whether one was removed.
    bool remove(std::string_view message_class) {
        std::lock_guard g{mutex_};
        const auto k = key(message_class);
        return !k.empty() && table_.erase(k) > 0;
    }

    folder_id folder_for(std::string_view message_class) const {
        std::lock_guard g{mutex_};
        std::string k = key(message_class);
        for (;;) {
            if (auto it = table_.find(k); it != table_.end()) return it->second;
            const auto dot = k.rfind('.');
            k.resize(dot == std::string::npos ? 0 : dot);
        }
    }

private:
    static std::string key(std::string_view c) {
        std::string k(c);
        std::transform(k.begin(), k.end(), k.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
        return k;
    }

    mutable std::mutex mutex_;
    std::map<std::string, folder_id> table_;
};

} // namespace spool
