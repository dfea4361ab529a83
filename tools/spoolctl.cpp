// spoolctl: looks into a spool's queue and changes it while spoolers run
// (README, "spoolctl"; docs/administration.md). Every change is one of the
// store's administration operations (spool::AdministeredStore), so the rules
// are the library's: a hold is applied at once, reports are the spooler's to
// make, and a message in hand is changed only when its hand-off has ended.

#include <spool/administration.hpp>
#include <spool/sqlite.hpp>
#ifdef SPOOLCTL_WITH_POSTGRES
#include <spool/postgres.hpp>
#endif
#ifdef SPOOLCTL_WITH_DKIM
#include <spool/dkim.hpp>
#endif
#ifdef SPOOLCTL_WITH_WEB
#include <spool/web.hpp>

#include <boost/asio/signal_set.hpp>
#endif

#include <CLI/CLI.hpp>
#include <boost/json/src.hpp> // Boost.JSON, header-only: one translation unit includes its sources

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

// Exit codes, as the README documents them.
enum exit_code : int {
    ok = 0,
    some_failed = 1,   // an operation was refused for some message (unknown id, not queued); the others were applied
    usage = 2,         // bad arguments or a malformed id: nothing was done
    cannot_open = 3,   // no such file, not a spool database, a newer schema, no permission
    store_failed = 4,  // the database failed during the command
};

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string iso(spool::time_point t) { return spool::utc_text(t); }

boost::json::value time_json(spool::time_point t) {
    if (t == spool::time_point::max()) return nullptr;
    return boost::json::value(iso(t));
}

std::uint64_t parse_id(const std::string& text, const std::string& where) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || v == 0) throw usage_error(where + ": '" + text + "' is not a message id (a positive whole number)");
    return v;
}

// The ids a command names: numbers, ALL (empty result, all = true), or "-" for stdin, one per line.
struct id_set {
    bool all = false;
    std::vector<spool::message_id> ids;
};
id_set parse_ids(const std::vector<std::string>& args) {
    id_set out;
    for (const std::string& a : args) {
        if (a == "ALL") out.all = true;
        else if (a == "-") {
            std::string line;
            for (std::size_t n = 1; std::getline(std::cin, line); ++n) {
                while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
                const auto first = line.find_first_not_of(" \t");
                if (first == std::string::npos) continue; // blank lines are allowed
                out.ids.push_back(spool::message_id{parse_id(line.substr(first), "standard input, line " + std::to_string(n))});
            }
        } else {
            out.ids.push_back(spool::message_id{parse_id(a, "argument")});
        }
    }
    if (out.all && !out.ids.empty()) throw usage_error("ALL cannot be combined with ids");
    if (!out.all && out.ids.empty()) throw usage_error("no message named: give ids, ALL, or - to read ids from standard input");
    return out;
}

// Why a listed message could not be decoded. Not errc::corrupt_message's own
// text, which speaks of the quarantine a spooler's load does: a listing leaves it.
std::string unreadable(std::error_code ec) {
    if (ec == spool::errc::corrupt_message)
        return "it could not be decoded: damaged, or written with a payload type other than spool's mail_payload";
    if (ec == spool::errc::format_too_new) return "it was written by a newer spool than this spoolctl";
    return ec.message();
}

std::string status_name(const spool::recipient& r) {
    if (r.is_sent()) return "sent";
    if (r.is_failed()) return "failed";
    if (r.is_deferred()) return "deferred";
    return r.responsibility ? "settled" : "pending";
}

template <class Queued>
boost::json::object message_json(const Queued& q) {
    boost::json::object o;
    o["id"] = static_cast<std::uint64_t>(q.id);
    o["submit_time"] = iso(q.submit_time);
    o["size"] = q.size;
    o["state"] = std::string(spool::to_string(q.state));
    o["held"] = q.held;
    o["held_since"] = q.held_since ? boost::json::value(iso(*q.held_since)) : boost::json::value(nullptr);
    o["held_for_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(q.held_for).count();
    o["request"] = std::string(spool::to_string(q.request));
    // Due at once is stored as the epoch: shown as the submit time, since when it has been due.
    o["next_attempt"] = time_json(std::max(q.next_attempt, q.submit_time));
    o["locked"] = q.state == spool::queue_state::in_hand;
    o["lease_owner"] = q.lease_owner.empty() ? boost::json::value(nullptr) : boost::json::value(q.lease_owner);
    o["waiting_for"] = q.waiting_for.empty() ? boost::json::value(nullptr) : boost::json::value(q.waiting_for);
    if (!q.message) {
        // Shown as far as the queue row goes; the message is left exactly as it is.
        o["decoded"] = false;
        o["decode_error"] = unreadable(q.message.error());
        return o;
    }
    const auto& m = *q.message;
    o["decoded"] = true;
    o["message_class"] = m.message_class;
    o["sender"] = m.sender.address;
    o["subject"] = m.payload.subject;
    boost::json::array rs;
    for (const spool::recipient& r : m.recipients) {
        boost::json::object x;
        x["address"] = r.address;
        x["address_type"] = r.address_type;
        x["status"] = status_name(r);
        if (const auto* d = std::get_if<spool::status::deferred>(&r.status)) {
            x["attempts"] = d->attempts;
            x["next_attempt"] = iso(d->next_attempt);
            x["last_error"] = d->reason;
            x["diagnostic"] = d->diagnostic;
        } else if (const auto* f = std::get_if<spool::status::failed>(&r.status)) {
            x["last_error"] = f->reason;
            x["diagnostic"] = f->diagnostic;
        } else if (const auto* s = std::get_if<spool::status::sent>(&r.status)) {
            x["sent_at"] = iso(s->at);
        }
        rs.push_back(std::move(x));
    }
    o["recipients"] = std::move(rs);
    return o;
}

template <class Queued>
void print_message(std::ostream& out, const Queued& q, bool details) {
    out << q.id << "  " << q.size << " bytes  submitted " << iso(q.submit_time) << "  " << spool::to_string(q.state);
    if (q.held) out << " since " << iso(*q.held_since);
    else if (q.state == spool::queue_state::deferred) out << " until " << iso(q.next_attempt);
    else if (q.state == spool::queue_state::waiting) out << " for " << q.waiting_for << ", down, until " << iso(q.next_attempt);
    if (q.held_for.count() > 0 && !details) out << " (held earlier)";
    if (q.state == spool::queue_state::in_hand && !q.lease_owner.empty()) out << " by " << q.lease_owner;
    if (q.request != spool::admin_request::none) out << "  [" << spool::to_string(q.request) << " requested]";
    if (!q.message) {
        out << "\n    (the message cannot be read here: " << unreadable(q.message.error()) << "; it is left as it is)\n";
        return;
    }
    const auto& m = *q.message;
    out << "  from " << (m.sender.address.empty() ? "<>" : m.sender.address) << '\n';
    if (details) {
        out << "    class " << m.message_class << ", subject: " << m.payload.subject << '\n';
        if (q.held_for.count() > 0)
            out << "    held earlier for " << std::chrono::duration_cast<std::chrono::seconds>(q.held_for).count()
                << " s (not counted toward its lifetime)\n";
    }
    for (const spool::recipient& r : m.recipients) {
        out << "    " << r.address << " (" << r.address_type << ")  " << status_name(r);
        if (const auto* d = std::get_if<spool::status::deferred>(&r.status))
            out << ", " << d->attempts << " attempts, next " << iso(d->next_attempt) << ": " << d->reason;
        else if (const auto* f = std::get_if<spool::status::failed>(&r.status))
            out << ": " << f->reason;
        out << '\n';
    }
}

struct options {
    std::string db;
    std::string postgres;
    bool json = false;
    // list
    std::string state, domain;
    std::int64_t older_than = -1;
    std::optional<std::uint64_t> limit; // none: every message; 0: none, as head -n 0
    // operations
    std::vector<std::string> ids;
    bool report = false;
    // the suppression list
    std::vector<std::string> addresses;
    std::string reason, after;
    std::int64_t expires_in = -1; // seconds; none: never
    bool fold_local_part = false;
    // dkim-key
    std::string key_type = "rsa", selector, key_domain, key_file;
    unsigned key_bits = 2048;
    // serve and web-user
    std::string listen = "127.0.0.1:8025", users, base_path, user_name, role = "reader", tls_cert, tls_key;
    std::vector<std::string> trusted_proxies;
    std::string metrics_url;
    std::int64_t metrics_every = 60;
    // the action log
    std::int64_t log_retention_days = 90; // 0: keep every entry
};

// Who the action log names for this run: the account that ran spoolctl
// (from the password database, not $USER, which anyone can set).
std::string operator_name() {
    passwd pw{};
    passwd* found = nullptr;
    char buffer[4096];
    if (getpwuid_r(geteuid(), &pw, buffer, sizeof buffer, &found) == 0 && found) return std::string(found->pw_name) + " (spoolctl)";
    return "uid " + std::to_string(geteuid()) + " (spoolctl)";
}

// Writes one action to the spool's action log (docs/web.md): 0, or
// store_failed with why, when the log cannot be written (the action itself
// is done: its results were printed).
template <class Store>
int log_action(Store& store, const options& o, std::string action, std::string target, std::uint64_t done, std::uint64_t refused) {
    const spool::logged_action entry{0, std::chrono::system_clock::now(), operator_name(), std::move(action), std::move(target), done, refused, 0};
    if (const auto ec = spool::record_action(store, entry, std::chrono::hours{24} * o.log_retention_days)) {
        std::cerr << "spoolctl: done, but the action log could not be written: " << ec.message() << '\n';
        return store_failed;
    }
    return ok;
}

#ifdef SPOOLCTL_WITH_DKIM
// Makes a DKIM key and prints the record to publish: a zone-file line whose
// TXT value is cut into strings of at most 255 octets (RFC 1035 §3.3.14), as
// an RSA 2048 key's does not fit in one; or, with --json, the name and the value.
int make_dkim_key(const options& o) {
    if (o.key_type != "rsa" && o.key_type != "ed25519") throw usage_error("--type is rsa or ed25519, not " + o.key_type);
    const auto type = o.key_type == "rsa" ? spool::dkim_key_type::rsa : spool::dkim_key_type::ed25519;
    std::string record;
    try {
        record = spool::make_dkim_key(o.key_file, type, o.key_bits);
    } catch (const spool::dkim_key_error& e) {
        std::cerr << "spoolctl: " << e.what() << '\n';
        return cannot_open;
    }
    const std::string name = o.selector + "._domainkey." + o.key_domain + ".";
    if (o.json) {
        std::cout << boost::json::serialize(boost::json::object{{"name", name}, {"type", "TXT"}, {"value", record}, {"key", o.key_file}})
                  << '\n';
        return ok;
    }
    std::cout << name << " IN TXT (";
    for (std::size_t at = 0; at < record.size(); at += 255) std::cout << " \"" << record.substr(at, 255) << '"';
    std::cout << " )\n";
    return ok;
}
#endif

boost::json::object suppression_json(const spool::suppression_entry& e) {
    boost::json::object o{{"address", e.address},
                          {"reason", e.reason},
                          {"diagnostic", e.diagnostic},
                          {"added", iso(e.added)},
                          {"expires", e.expires ? boost::json::value(iso(*e.expires)) : boost::json::value(nullptr)},
                          {"source", static_cast<std::uint64_t>(e.source)}};
    return o;
}

void print_suppression(std::ostream& out, const spool::suppression_entry& e) {
    out << e.address << "  since " << iso(e.added) << (e.expires ? "  until " + iso(*e.expires) : std::string("  until removed"));
    if (e.source != spool::message_id{}) out << "  by message " << e.source;
    if (!e.diagnostic.empty()) out << "  " << e.diagnostic;
    if (!e.reason.empty()) out << "  " << e.reason;
    out << '\n';
}

// The action log, newest first, with the dashboard's field names.
template <class Store>
int action_log(Store& store, const options& o) {
    std::uint64_t shown = 0;
    for (std::int64_t before = 0; !o.limit || shown < *o.limit;) {
        const std::size_t want = o.limit ? static_cast<std::size_t>(std::min<std::uint64_t>(256, *o.limit - shown)) : 256;
        const auto page = store.action_log(before, want);
        if (!page) throw std::system_error(page.error(), "reading the action log");
        for (const auto& a : *page) {
            if (o.json)
                std::cout << boost::json::serialize(boost::json::object{{"key", a.key}, {"at", iso(a.at)}, {"who", a.who}, {"action", a.action},
                                                                        {"target", a.target}, {"done", a.done}, {"refused", a.refused},
                                                                        {"skipped", a.skipped}})
                          << '\n';
            else
                std::cout << iso(a.at) << "  " << a.who << "  " << a.action << "  " << a.target << "  " << a.done << " done, " << a.refused
                          << " refused, " << a.skipped << " skipped\n";
        }
        shown += page->size();
        if (page->size() < want) break;
        before = page->back().key;
    }
    if (!o.json) std::cout << shown << (shown == 1 ? " entry\n" : " entries\n");
    return ok;
}

// The suppression list (docs/suppression.md): list, add, remove, look up.
template <class Store>
int suppression(Store& store, const options& o, const std::string& command) {
    const auto now = std::chrono::system_clock::now();
    const auto key = [&](const std::string& a) { return spool::suppression_key(a, o.fold_local_part); };
    if (command == "list") {
        std::size_t shown = 0;
        for (std::string after = o.after; !o.limit || shown < *o.limit;) {
            const std::size_t want = o.limit ? static_cast<std::size_t>(std::min<std::uint64_t>(256, *o.limit - shown)) : 256;
            const auto page = store.list_suppressions(after, want, now);
            if (!page) throw std::system_error(page.error(), "listing the suppression list");
            for (const auto& e : *page) {
                if (o.json) std::cout << boost::json::serialize(suppression_json(e)) << '\n';
                else print_suppression(std::cout, e);
            }
            shown += page->size();
            if (page->size() < want) break;
            after = page->back().address;
        }
        if (!o.json) std::cout << shown << (shown == 1 ? " address\n" : " addresses\n");
        return ok;
    }
    if (o.addresses.empty()) throw usage_error("suppression " + command + " takes one or more addresses");
    int rc = ok;
    for (const std::string& address : o.addresses) {
        const std::string k = key(address);
        if (k.empty() || k.find('@') == std::string::npos) throw usage_error("not an address: '" + address + "'");
    }
    std::uint64_t done = 0, refused = 0;
    std::string target;
    for (const std::string& address : o.addresses) {
        const std::string k = key(address);
        std::error_code ec;
        if (command != "lookup") target += (target.empty() ? "" : ", ") + k;
        if (command == "add") {
            spool::suppression_entry e{k, o.reason.empty() ? "added by spoolctl" : o.reason, "", now, std::nullopt, {}};
            if (o.expires_in >= 0) e.expires = now + std::chrono::seconds{o.expires_in};
            ec = store.suppress(e);
        } else if (command == "remove") {
            ec = store.unsuppress(k);
        } else {
            const auto found = store.find_suppression(k, now);
            if (!found) ec = found.error();
            else if (!*found) ec = spool::errc::not_found;
            else if (o.json) std::cout << boost::json::serialize(suppression_json(**found)) << '\n';
            else print_suppression(std::cout, **found);
        }
        if (ec == spool::errc::not_found) {
            if (o.json) std::cout << boost::json::serialize(boost::json::object{{"address", k}, {"error", "not on the suppression list"}}) << '\n';
            std::cerr << "spoolctl: " << k << ": not on the suppression list\n";
            rc = std::max<int>(rc, some_failed);
            ++refused;
        } else if (ec) {
            std::cerr << "spoolctl: " << k << ": suppression " << command << ": " << ec.message() << '\n';
            return store_failed;
        } else if (command != "lookup") {
            ++done;
            if (o.json) std::cout << boost::json::serialize(boost::json::object{{"address", k}, {"operation", command}, {"result", "applied"}}) << '\n';
            else std::cout << k << ": " << (command == "add" ? "suppressed" : "removed from the suppression list") << '\n';
        }
    }
    if (command == "lookup") return rc;
    return std::max(rc, log_action(store, o, command == "add" ? "suppress" : "unsuppress", target, done, refused));
}

template <class Store>
class control {
public:
    control(Store& store, const options& o) : store_(store), o_(o) {}

    int list() {
        spool::queue_filter f;
        if (!o_.state.empty()) f.state = state_named(o_.state);
        f.domain = o_.domain;
        if (o_.older_than >= 0) f.older_than = std::chrono::seconds{o_.older_than};
        const auto now = std::chrono::system_clock::now();
        std::size_t shown = 0;
        // A page at a time: memory stays that of one page, whatever the queue holds.
        for (spool::message_id after{}; !o_.limit || shown < *o_.limit;) {
            const std::size_t want = o_.limit ? static_cast<std::size_t>(std::min<std::uint64_t>(256, *o_.limit - shown)) : 256;
            const auto page = store_.list_queue(f, now, after, want);
            for (const auto& q : page) {
                if (o_.json) std::cout << boost::json::serialize(message_json(q)) << '\n';
                else print_message(std::cout, q, false);
            }
            shown += page.size();
            if (page.size() < want) break;
            after = page.back().id;
        }
        if (!o_.json) std::cout << shown << (shown == 1 ? " message\n" : " messages\n");
        return ok;
    }

    int show() {
        const id_set set = parse_ids(o_.ids);
        if (set.all) throw usage_error("show takes ids, not ALL (use list)");
        int rc = ok;
        for (spool::message_id id : set.ids) {
            auto q = store_.inspect(id, std::chrono::system_clock::now());
            if (!q) {
                rc = refused(id, "show", q.error());
                continue;
            }
            if (o_.json) std::cout << boost::json::serialize(message_json(*q)) << '\n';
            else print_message(std::cout, *q, true);
        }
        return rc;
    }

    int stats() {
        const spool::queue_counts c = store_.count_queue(std::chrono::system_clock::now());
        if (o_.json) {
            boost::json::object o{{"total", c.total},     {"due", c.due},         {"deferred", c.deferred}, {"held", c.held},
                                  {"in_hand", c.in_hand}, {"requested", c.requested}, {"waiting", c.waiting}};
            std::cout << boost::json::serialize(o) << '\n';
        } else {
            std::cout << "queued     " << c.total << "\ndue        " << c.due << "\ndeferred   " << c.deferred << "\nwaiting    "
                      << c.waiting << " (for a destination that is down)\nheld       " << c.held << "\nin hand    " << c.in_hand
                      << "\nrequested  " << c.requested << '\n';
        }
        return ok;
    }

    /// Applies `op` (name for the output) to each id, or to every queued message matching `filter` for ALL.
    template <class Op>
    int apply(const char* name, Op&& op, const spool::queue_filter& filter = {}, bool ids_optional = false) {
        id_set set;
        if (ids_optional && o_.ids.empty()) set.all = true;
        else set = parse_ids(o_.ids); // all ids are read and checked before anything changes
        int rc = ok;
        std::vector<spool::message_id> chunk;
        if (!set.all) {
            for (std::size_t i = 0; i < set.ids.size(); i += per_commit) {
                chunk.assign(set.ids.begin() + static_cast<std::ptrdiff_t>(i),
                             set.ids.begin() + static_cast<std::ptrdiff_t>(std::min(set.ids.size(), i + per_commit)));
                rc = std::max(rc, apply_chunk(name, op, chunk));
            }
            return std::max(rc, log_action(store_, o_, logged_name(name), spool::logged_ids(set.ids), done_, refused_));
        }
        const auto now = std::chrono::system_clock::now();
        for (spool::message_id after{};;) {
            const auto page = store_.list_queue(filter, now, after, per_commit);
            chunk.clear();
            for (const auto& q : page) chunk.push_back(q.id);
            rc = std::max(rc, apply_chunk(name, op, chunk));
            if (page.size() < per_commit) break;
            after = page.back().id;
        }
        const std::string target = filter.domain.empty() ? "every queued message" : "matching domain=" + filter.domain;
        return std::max(rc, log_action(store_, o_, logged_name(name), target, done_, refused_));
    }

private:
    static spool::queue_state state_named(const std::string& s) {
        for (auto st : {spool::queue_state::due, spool::queue_state::deferred, spool::queue_state::held, spool::queue_state::in_hand,
                        spool::queue_state::waiting})
            if (spool::to_string(st) == s) return st;
        throw usage_error("--state must be due, deferred, held, in_hand or waiting, not '" + s + "'");
    }

    // Operations are committed 256 at a time (the store's batch()): one durable
    // commit per chunk, not per message, so ALL over 100,000 messages takes
    // seconds. Results are printed once their chunk is committed.
    static constexpr std::size_t per_commit = 256;

    template <class Op>
    int apply_chunk(const char* name, Op& op, const std::vector<spool::message_id>& ids) {
        std::vector<spool::result<spool::admin_outcome>> results;
        results.reserve(ids.size());
        if (const std::error_code ec = store_.batch([&] {
                for (spool::message_id id : ids) results.push_back(op(id));
            })) {
            for (spool::message_id id : ids) refused(id, name, ec);
            return store_failed;
        }
        int rc = ok;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (results[i]) report(ids[i], name, *results[i]);
            else rc = refused(ids[i], name, results[i].error());
        }
        return rc;
    }

    // The action as the dashboard logs it too: requeue is flush, and a delete says whether it reports.
    std::string logged_name(std::string_view name) const {
        if (name == "requeue") return "flush";
        if (name == "delete" && o_.report) return "delete_with_report";
        return std::string(name);
    }

    void report(spool::message_id id, const char* name, spool::admin_outcome outcome) {
        ++done_;
        if (o_.json) {
            boost::json::object o{{"id", static_cast<std::uint64_t>(id)}, {"operation", name}, {"result", std::string(spool::to_string(outcome))}};
            std::cout << boost::json::serialize(o) << '\n';
        } else if (outcome == spool::admin_outcome::applied) {
            std::cout << id << ": " << name << ": done\n";
        } else {
            std::cout << id << ": " << name << ": requested; the spooler applies it at its next pass over the message"
                      << " (once a hand-off running now has ended)\n";
        }
    }
    int refused(spool::message_id id, const char* name, std::error_code ec) {
        ++refused_;
        if (o_.json) {
            boost::json::object o{{"id", static_cast<std::uint64_t>(id)}, {"operation", name}, {"error", ec.message()}};
            std::cout << boost::json::serialize(o) << '\n';
        }
        std::cerr << "spoolctl: " << id << ": " << name << ": " << ec.message() << '\n';
        return some_failed;
    }

    Store& store_;
    const options& o_;
    std::uint64_t done_ = 0, refused_ = 0;
};

#ifdef SPOOLCTL_WITH_WEB
// The users file of a spool: --users, else the SQLite file's name with ".users".
std::string users_file(const options& o) {
    if (!o.users.empty()) return o.users;
    if (!o.db.empty()) return o.db + ".users";
    throw usage_error("name the users file: --users <file>");
}

// Adds or changes a user (the password is the first line of standard input),
// or removes one. Needs no spool.
int web_user(const options& o, const std::string& command) {
    const std::string path = users_file(o);
    auto users = spool::web_credentials::load(path);
    if (command == "web-user remove") {
        if (!users.remove_user(o.user_name)) {
            std::cerr << "spoolctl: " << o.user_name << ": no such user in " << path << '\n';
            return some_failed;
        }
    } else {
        const auto role = spool::web_role_named(o.role);
        if (!role) throw usage_error("--role is reader or operator, not '" + o.role + "'");
        std::string password;
        std::getline(std::cin, password);
        if (!password.empty() && password.back() == '\r') password.pop_back();
        try {
            users.set_user(o.user_name, password, *role);
        } catch (const std::invalid_argument& e) {
            throw usage_error(e.what());
        }
    }
    users.save(path);
    std::cout << o.user_name << ": " << (command == "web-user remove" ? "removed" : "can sign in as " + o.role) << " (" << path << ")\n";
    return ok;
}

// Adds an API token (printed once: only its hash is kept) or removes one. Needs no spool.
int web_token(const options& o, const std::string& command) {
    const std::string path = users_file(o);
    auto users = spool::web_credentials::load(path);
    if (command == "web-token remove") {
        if (!users.remove_token(o.user_name)) {
            std::cerr << "spoolctl: " << o.user_name << ": no such token in " << path << '\n';
            return some_failed;
        }
        users.save(path);
        std::cout << o.user_name << ": token removed (" << path << ")\n";
        return ok;
    }
    const auto role = spool::web_role_named(o.role);
    if (!role) throw usage_error("--role is reader or operator, not '" + o.role + "'");
    std::string token;
    try {
        token = users.add_token(o.user_name, *role);
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
    users.save(path);
    std::cout << token << '\n';
    return ok;
}

int open_failed(const std::string& what, const std::string& why);

// Serves the dashboard (docs/web.md) until SIGINT or SIGTERM.
template <class Store>
int serve(Store& store, const options& o) {
    const std::string path = users_file(o);
    auto users = spool::web_credentials::load(path);
    if (users.empty()) {
        std::cerr << "spoolctl: nobody can sign in: add a user first (spoolctl web-user add NAME --role operator --users " << path << ")\n";
        return cannot_open;
    }
    const auto colon = o.listen.rfind(':');
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(colon == std::string::npos ? "" : o.listen.substr(0, colon), ec);
    std::uint16_t port = 0;
    const std::string port_text = colon == std::string::npos ? "" : o.listen.substr(colon + 1);
    const auto [end, bad] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec || bad != std::errc{} || end != port_text.data() + port_text.size() || port_text.empty())
        throw usage_error("--listen is address:port (127.0.0.1:8025), not '" + o.listen + "'");
    spool::web_options options;
    options.base_path = o.base_path;
    options.action_log_retention = std::chrono::hours{24} * o.log_retention_days;
    options.trusted_proxies = o.trusted_proxies;
    if (o.tls_cert.empty() != o.tls_key.empty()) throw usage_error("--tls-cert and --tls-key go together");
    std::optional<boost::asio::ssl::context> tls;
    try {
        if (!o.tls_cert.empty()) tls.emplace(spool::web_tls_context(o.tls_cert, o.tls_key));
    } catch (const boost::system::system_error& e) {
        return open_failed("the TLS files", e.what());
    }
    spool::web_dashboard<Store> dashboard(store, std::move(users), options);
    boost::asio::io_context io;
    // The overview's charts, from a spooler's metrics page (spool::metrics), when given one.
    std::optional<spool::web_metrics_feed> feed;
    if (!o.metrics_url.empty()) {
        spool::web_activity activity;
        try {
            feed.emplace(io, o.metrics_url, activity, std::chrono::seconds{std::max<std::int64_t>(o.metrics_every, 1)},
                         [](const std::string& why) { std::cerr << "spoolctl: metrics: " << why << '\n'; });
        } catch (const std::invalid_argument& e) {
            throw usage_error(e.what());
        }
        dashboard.show_live({{}, activity, {}});
    }
    auto handler = [&](const spool::web_request& r, const std::string& a) { return dashboard.handle(r, a); };
    auto server = tls ? std::make_unique<spool::web_server>(io, boost::asio::ip::tcp::endpoint{address, port}, *tls, handler)
                      : std::make_unique<spool::web_server>(io, boost::asio::ip::tcp::endpoint{address, port}, handler);
    boost::asio::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([&](boost::system::error_code, int) { io.stop(); });
    const auto at = server->endpoint();
    std::cout << "spoolctl: serving the dashboard at " << (tls ? "https" : "http") << "://" << at.address().to_string() << ':' << at.port() << o.base_path << "/\n"
              << std::flush;
    // Two threads: a long action on everything matching holds one, and the pages keep answering on the other.
    std::thread second([&] { io.run(); });
    io.run();
    second.join();
    return ok;
}
#endif

template <class Store>
int run(Store& store, const options& o, const std::string& command) {
    if (command.rfind("suppression ", 0) == 0) return suppression(store, o, command.substr(std::string_view("suppression ").size()));
#ifdef SPOOLCTL_WITH_WEB
    if (command == "serve") return serve(store, o);
#endif
    control<Store> c(store, o);
    const auto now = [] { return std::chrono::system_clock::now(); };
    if (command == "list") return c.list();
    if (command == "show") return c.show();
    if (command == "stats") return c.stats();
    if (command == "actions") return action_log(store, o);
    if (command == "hold") return c.apply("hold", [&](spool::message_id id) { return store.hold(id, now()); });
    if (command == "release") return c.apply("release", [&](spool::message_id id) { return store.release(id, now()); });
    if (command == "requeue" || command == "flush") {
        spool::queue_filter f;
        f.domain = o.domain;
        if (!o.domain.empty() && !o.ids.empty()) throw usage_error(command + " takes ids or --domain, not both");
        return c.apply(command.c_str(), [&](spool::message_id id) { return store.request(id, spool::admin_request::flush); }, f,
                       !o.domain.empty());
    }
    if (command == "expire") return c.apply("expire", [&](spool::message_id id) { return store.request(id, spool::admin_request::expire); });
    if (command == "delete") {
        const auto r = o.report ? spool::admin_request::remove_with_report : spool::admin_request::remove;
        return c.apply("delete", [&](spool::message_id id) { return store.request(id, r); });
    }
    throw usage_error("unknown command " + command);
}

// A count or a number of seconds: 0 or more, and no more than the library's
// 64-bit counts hold. Anything else is a usage error that says so, not a
// negative that wraps to a huge count or a bound no one can read.
std::int64_t whole_number(const std::string& option, const std::string& v) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec == std::errc::invalid_argument || end != v.data() + v.size())
        throw CLI::ValidationError(option, "must be a whole number, 0 or more, not '" + v + "'");
    if (ec == std::errc::result_out_of_range || n < 0)
        throw CLI::ValidationError(option, "must be 0 or more, and at most 9223372036854775807, not '" + v + "'");
    return n;
}

int open_failed(const std::string& what, const std::string& why) {
    std::cerr << "spoolctl: cannot open " << what << ": " << why << '\n';
    return cannot_open;
}

} // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"spoolctl: look into a spool's outgoing queue and change it while spoolers run.\n"
                 "Ids are message ids as `list` shows them; ALL names every queued message; - reads ids from standard input, one per line.\n"
                 "Exit codes: 0 done; 1 refused for some message (the others done); 2 usage error or malformed id (nothing done);\n"
                 "3 the database cannot be opened (missing, not a spool, newer schema, no permission); 4 the database failed.",
                 "spoolctl"};
    app.require_subcommand(1, 1);
    app.fallthrough(); // --db and --json may come after the command too
    auto* db = app.add_option("--db", o.db, "The spool's SQLite database file");
#ifdef SPOOLCTL_WITH_POSTGRES
    auto* pg = app.add_option("--postgres", o.postgres, "A PostgreSQL spool: a libpq connection string (key=value or URI)");
    db->excludes(pg);
#endif
    (void)db;
    app.add_flag("--json", o.json, "One JSON object per line, for scripts");
    app.add_option_function<std::string>(
        "--log-retention", [&](const std::string& v) { o.log_retention_days = whole_number("--log-retention", v); },
        "Days the action log keeps an entry (default 90; 0 keeps every one): applied when an action is logged");

    auto* list = app.add_subcommand("list", "List the queue, a page at a time (memory stays small on any queue)");
    list->add_option("--state", o.state, "Only messages in this state: due, deferred, held, in_hand, waiting (for a destination that is down)");
    list->add_option("--domain", o.domain, "Only messages with a recipient at this domain not yet sent or failed");
    list->add_option_function<std::string>(
        "--older-than", [&](const std::string& v) { o.older_than = whole_number("--older-than", v); },
        "Only messages submitted at least this many seconds ago");
    list->add_option_function<std::string>(
        "--limit", [&](const std::string& v) { o.limit = static_cast<std::uint64_t>(whole_number("--limit", v)); },
        "Show at most this many messages (0 shows none; without it, every one)");
    auto ids = [&](CLI::App* cmd) { cmd->add_option("ids", o.ids, "Message ids, ALL, or - (ids from standard input)"); };
    ids(app.add_subcommand("show", "Show queued messages in full"));
    app.add_subcommand("stats", "Count the queued messages by state");
    auto* actions = app.add_subcommand("actions", "Show the action log, newest first: who acted on the queue, how, and what came of it");
    actions->add_option_function<std::string>(
        "--limit", [&](const std::string& v) { o.limit = static_cast<std::uint64_t>(whole_number("--limit", v)); },
        "Show at most this many entries");
    ids(app.add_subcommand("hold", "Put messages on hold: not attempted until released; the time held does not count toward their lifetime"));
    ids(app.add_subcommand("release", "Release held messages: looked at again at once; recipients waiting for a retry keep their next attempt"));
    for (const char* name : {"requeue", "flush"}) {
        auto* cmd = app.add_subcommand(name, "Attempt messages now, including recipients waiting for a retry (requeue and flush are the same)");
        ids(cmd);
        cmd->add_option("--domain", o.domain, "Every queued message with a recipient at this destination domain not yet sent or failed");
    }
    auto* del = app.add_subcommand("delete", "Delete messages: at once if no hand-off holds them, else by the spooler when it ends");
    ids(del);
    del->add_flag("--report", o.report, "Fail the remaining recipients with a non-delivery report first (made by the spooler)");
    ids(app.add_subcommand("expire", "Fail the remaining recipients now, with a non-delivery report (made by the spooler)"));
    auto* sup = app.add_subcommand("suppression", "The suppression list: addresses mail is no longer sent to (docs/suppression.md)");
    sup->require_subcommand(1, 1);
    sup->add_flag("--fold-local-part", o.fold_local_part, "Compare local parts without case, as the spooler's suppression_policy does when so set");
    auto* sup_list = sup->add_subcommand("list", "List the entries in address order, a page at a time");
    sup_list->add_option("--after", o.after, "Start after this address (as list printed it)");
    sup_list->add_option_function<std::string>(
        "--limit", [&](const std::string& v) { o.limit = static_cast<std::uint64_t>(whole_number("--limit", v)); },
        "Show at most this many entries");
    auto addresses = [&](CLI::App* cmd) { cmd->add_option("addresses", o.addresses, "Addresses"); };
    auto* sup_add = sup->add_subcommand("add", "Add addresses (an address already listed gets the new entry)");
    addresses(sup_add);
    sup_add->add_option("--reason", o.reason, "Why, as the entry and the recipients it fails will say");
    sup_add->add_option_function<std::string>(
        "--expires-in", [&](const std::string& v) { o.expires_in = whole_number("--expires-in", v); },
        "Seconds until the entry expires (without it, never)");
    addresses(sup->add_subcommand("remove", "Remove addresses: mail to them is sent again"));
    addresses(sup->add_subcommand("lookup", "Show the entries for addresses; exit code 1 if one is not listed"));
#ifdef SPOOLCTL_WITH_DKIM
    auto* key = app.add_subcommand("dkim-key", "Make a DKIM signing key (a PEM file only its owner reads) and print the TXT record to publish; needs no spool");
    key->add_option("--type", o.key_type, "rsa (the default) or ed25519");
    key->add_option("--bits", o.key_bits, "RSA key size (default 2048; under 1024 is refused)");
    key->add_option("--selector", o.selector, "The selector the record is published under")->required();
    key->add_option("--domain", o.key_domain, "The signing domain")->required();
    key->add_option("file", o.key_file, "Where to write the private key; an existing file is never overwritten")->required();
#endif

#ifdef SPOOLCTL_WITH_WEB
    auto* serve_cmd = app.add_subcommand("serve", "Serve the web dashboard (docs/web.md) until interrupted; it asks every visitor to sign in");
    serve_cmd->add_option("--listen", o.listen, "address:port to listen on (default 127.0.0.1:8025, loopback only)");
    serve_cmd->add_option("--users", o.users, "The users file (default: the --db file's name with .users)");
    serve_cmd->add_option("--base-path", o.base_path, "The path it is served under behind a reverse proxy, e.g. /spool");
    serve_cmd->add_option("--tls-cert", o.tls_cert, "Serve HTTPS with this certificate chain (PEM; with --tls-key)");
    serve_cmd->add_option("--tls-key", o.tls_key, "The certificate's private key (PEM)");
    serve_cmd->add_option("--metrics-url", o.metrics_url,
                          "A spooler's metrics page (http://host:port/metrics): the overview charts the last 24 hours from it");
    serve_cmd->add_option_function<std::string>(
        "--metrics-every", [&](const std::string& v) { o.metrics_every = whole_number("--metrics-every", v); },
        "Seconds between reads of the metrics page (default 60)");
    serve_cmd->add_option("--trusted-proxy", o.trusted_proxies,
                          "The address of a reverse proxy whose X-Forwarded-For, -Host and -Proto are believed (repeatable)");
    auto* web_users = app.add_subcommand("web-user", "Add, change or remove a dashboard user; needs no spool");
    web_users->require_subcommand(1, 1);
    web_users->add_option("--users", o.users, "The users file (default: the --db file's name with .users)");
    auto* user_add = web_users->add_subcommand("add", "Add a user, or change one's password and role: the password is read from standard input");
    user_add->add_option("name", o.user_name, "The user's name (letters, digits, '.', '_', '-')")->required();
    user_add->add_option("--role", o.role, "reader (the default: looks only) or operator (also acts on messages)");
    web_users->add_subcommand("remove", "Remove a user")->add_option("name", o.user_name, "The user's name")->required();
    auto* web_tokens = app.add_subcommand("web-token", "Add or remove an API token (Authorization: Bearer); needs no spool");
    web_tokens->require_subcommand(1, 1);
    web_tokens->add_option("--users", o.users, "The users file (default: the --db file's name with .users)");
    auto* token_add = web_tokens->add_subcommand("add", "Make a token for a name (replacing its old one) and print it, once: only its hash is kept");
    token_add->add_option("name", o.user_name, "The token's name (letters, digits, '.', '_', '-')")->required();
    token_add->add_option("--role", o.role, "reader (the default) or operator");
    web_tokens->add_subcommand("remove", "Remove a name's token")->add_option("name", o.user_name, "The token's name")->required();
#endif

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 reports a misspelt command as a missing one: name it instead.
        if (app.get_subcommands().empty())
            for (const std::string& word : app.remaining())
                if (!word.empty() && word[0] != '-') {
                    std::cerr << "spoolctl: unknown command '" << word
                              << "' (expected list, show, stats, actions, hold, release, requeue, flush, delete, expire, suppression"
#ifdef SPOOLCTL_WITH_DKIM
                                 ", dkim-key"
#endif
#ifdef SPOOLCTL_WITH_WEB
                                 ", serve, web-user, web-token"
#endif
                                 ")\n"
                                 "Run spoolctl --help for usage.\n";
                    return usage;
                }
        const int rc = app.exit(e);
        return rc == 0 ? ok : usage;
    }
    std::string command = app.get_subcommands().front()->get_name();
    if (command == "suppression") command += " " + sup->get_subcommands().front()->get_name();
#ifdef SPOOLCTL_WITH_WEB
    if (command == "web-user") command += " " + web_users->get_subcommands().front()->get_name();
    if (command == "web-token") command += " " + web_tokens->get_subcommands().front()->get_name();
#endif
    try {
#ifdef SPOOLCTL_WITH_DKIM
        if (command == "dkim-key") return make_dkim_key(o);
#endif
#ifdef SPOOLCTL_WITH_WEB
        if (command.rfind("web-user ", 0) == 0) return web_user(o, command);
        if (command.rfind("web-token ", 0) == 0) return web_token(o, command);
#endif
        if (!o.postgres.empty()) {
#ifdef SPOOLCTL_WITH_POSTGRES
            spool::postgres_options existing;
            existing.create = false; // as with --db: never make a spool where there is none
            std::string reason;
            auto store = spool::postgres_store::open(o.postgres, existing, reason);
            if (!store) return open_failed("the PostgreSQL spool", store.error().message() + (reason.empty() ? "" : " (" + reason + ")"));
            return run(*store, o, command);
#endif
        }
        if (o.db.empty()) throw usage_error("name the spool: --db <file>");
        // Opening would create a missing file: refuse instead, so a typing error makes no empty spool.
        struct stat st {};
        if (::stat(o.db.c_str(), &st) != 0) return open_failed(o.db, std::strerror(errno));
        // Even a listing writes (SQLite's write-ahead log): say why rather than SQLite's "unable to open".
        if (::access(o.db.c_str(), R_OK | W_OK) != 0) return open_failed(o.db, std::strerror(errno));
        spool::sqlite_options existing;
        existing.create = false; // spoolctl never makes a spool of a file that is not one
        auto store = spool::sqlite_store::open(o.db, existing);
        if (!store) return open_failed(o.db, store.error().message());
        return run(*store, o, command);
    } catch (const usage_error& e) {
        std::cerr << "spoolctl: " << e.what() << "\nRun spoolctl --help for usage.\n";
        return usage;
    } catch (const std::exception& e) {
        std::cerr << "spoolctl: " << e.what() << '\n';
        return store_failed;
    }
}
