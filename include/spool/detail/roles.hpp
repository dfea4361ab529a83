#pragma once

// The roles a policy can play, in one table. Each role says, in one place:
// its tag; how many a spooler takes; whether a type plays it (its enable_
// variable, which the tag sets and a user may specialise); whether a type
// meets its requirements; the one diagnostic for the first requirement it
// misses; and the one for composing too many or too few. Role lookup
// (has_role, plays), the role counts of a composition, and every diagnostic
// are derived from the table, so a new role is one more entry.

#include <spool/concepts.hpp>
#include <spool/detail/messages.hpp>

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/hana/unpack.hpp>

#include <concepts>
#include <string_view>
#include <type_traits>

namespace spool::detail {

// Named so that a compiler that prints the failed requirement (clang) reads
// "requirement_unmet_by<your_type>".
template <class T>
struct requirement_unmet_by : std::false_type {};

// Whether T has a member of this name at all, whatever its signature: a class
// deriving from T and from a probe with that member makes the name ambiguous
// exactly when T has one. A final class cannot be probed, and is told "missing".
#define SPOOL_DETAIL_MEMBER_PROBE(name)                                                                          \
    struct probe_##name {                                                                                        \
        void name();                                                                                             \
    };                                                                                                           \
    template <class T>                                                                                           \
    struct with_##name : T, probe_##name {};                                                                     \
    template <class T>                                                                                           \
    concept has_member_##name = std::is_class_v<T> && !std::is_final_v<T> && !requires { &with_##name<T>::name; };
SPOOL_DETAIL_MEMBER_PROBE(create)
SPOOL_DETAIL_MEMBER_PROBE(load)
SPOOL_DETAIL_MEMBER_PROBE(save)
SPOOL_DETAIL_MEMBER_PROBE(enqueue)
SPOOL_DETAIL_MEMBER_PROBE(abort_submit)
SPOOL_DETAIL_MEMBER_PROBE(finish)
SPOOL_DETAIL_MEMBER_PROBE(outgoing_queue)
SPOOL_DETAIL_MEMBER_PROBE(contents)
SPOOL_DETAIL_MEMBER_PROBE(address_types)
SPOOL_DETAIL_MEMBER_PROBE(transmit)
SPOOL_DETAIL_MEMBER_PROBE(async_transmit)
SPOOL_DETAIL_MEMBER_PROBE(preprocess)
SPOOL_DETAIL_MEMBER_PROBE(postprocess)
SPOOL_DETAIL_MEMBER_PROBE(finishing)
SPOOL_DETAIL_MEMBER_PROBE(expand)
SPOOL_DETAIL_MEMBER_PROBE(now)
#undef SPOOL_DETAIL_MEMBER_PROBE

// One requirement's diagnostic: "missing" where the type has no member of that
// name, "has it, but" where it has one spool cannot call as it needs.
#define SPOOL_DETAIL_UNMET(T, member, MESSAGE)                                                            \
    if constexpr (has_member_##member<T>) static_assert(requirement_unmet_by<T>::value, MESSAGE##_WRONG); \
    else static_assert(requirement_unmet_by<T>::value, MESSAGE)

template <class S>
constexpr void diagnose_store() {
    if constexpr (!store_names_message_type<S>) static_assert(requirement_unmet_by<S>::value, SPOOL_DETAIL_STORE_MESSAGE_TYPE);
    else if constexpr (!store_creates<S>) { SPOOL_DETAIL_UNMET(S, create, SPOOL_DETAIL_STORE_CREATE); }
    else if constexpr (!store_loads<S>) { SPOOL_DETAIL_UNMET(S, load, SPOOL_DETAIL_STORE_LOAD); }
    else if constexpr (!store_saves<S>) { SPOOL_DETAIL_UNMET(S, save, SPOOL_DETAIL_STORE_SAVE); }
    else if constexpr (!store_enqueues<S>) { SPOOL_DETAIL_UNMET(S, enqueue, SPOOL_DETAIL_STORE_ENQUEUE); }
    else if constexpr (!store_aborts<S>) { SPOOL_DETAIL_UNMET(S, abort_submit, SPOOL_DETAIL_STORE_ABORT); }
    else if constexpr (!store_finishes<S>) { SPOOL_DETAIL_UNMET(S, finish, SPOOL_DETAIL_STORE_FINISH); }
    else if constexpr (!store_lists_queue<S>) { SPOOL_DETAIL_UNMET(S, outgoing_queue, SPOOL_DETAIL_STORE_QUEUE); }
    else if constexpr (!store_lists_folders<S>) { SPOOL_DETAIL_UNMET(S, contents, SPOOL_DETAIL_STORE_CONTENTS); }
}

// A transport with `receive` must also say when mail waits.
template <class T, class M>
inline constexpr bool transport_ok =
    Transport<T, M> && (!transport_receives<T, M> || transport_is_polled<T> || transport_signals<T>);

template <class T, class M>
constexpr void diagnose_transport() {
    if constexpr (!names_address_types<T>) { SPOOL_DETAIL_UNMET(T, address_types, SPOOL_DETAIL_TRANSPORT_ADDRESS_TYPES); }
    else if constexpr (!transport_transmits<T, M> && has_member_async_transmit<T>)
        static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_TRANSPORT_ASYNC_TRANSMIT_WRONG);
    else if constexpr (!transport_transmits<T, M>) { SPOOL_DETAIL_UNMET(T, transmit, SPOOL_DETAIL_TRANSPORT_TRANSMIT); }
    else if constexpr (transport_receives<T, M> && !transport_is_polled<T> && !transport_signals<T>)
        static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_TRANSPORT_MAIL_WAITING);
}

template <class P, class M>
constexpr void diagnose_preprocessor() {
    if constexpr (!names_address_types<P>) { SPOOL_DETAIL_UNMET(P, address_types, SPOOL_DETAIL_PREPROCESSOR_ADDRESS_TYPES); }
    else if constexpr (!preprocessor_preprocesses<P, M>) { SPOOL_DETAIL_UNMET(P, preprocess, SPOOL_DETAIL_PREPROCESSOR_PREPROCESS); }
}

enum class how_many { exactly_one, at_most_one, any };

constexpr bool allowed(how_many rule, std::size_t n) {
    return rule == how_many::any || (rule == how_many::at_most_one ? n <= 1 : n == 1);
}

// --- The table ----------------------------------------------------------------

struct store_role {
    using tag = store_tag;
    static constexpr std::string_view tag_name = "store_tag";
    static constexpr how_many count = how_many::exactly_one;
    template <class T> static constexpr bool played_by = enable_store<T>;
    template <class T, class M> static constexpr bool met_by = Store<T>;
    template <class T, class M> static constexpr void diagnose() { diagnose_store<T>(); }
    template <class Set> static constexpr void miscounted() { static_assert(requirement_unmet_by<Set>::value, SPOOL_DETAIL_ONE_STORE); }
};
struct transport_role {
    using tag = transport_tag;
    static constexpr std::string_view tag_name = "transport_tag";
    static constexpr how_many count = how_many::any;
    template <class T> static constexpr bool played_by = enable_transport<T>;
    template <class T, class M> static constexpr bool met_by = transport_ok<T, M>;
    template <class T, class M> static constexpr void diagnose() { diagnose_transport<T, M>(); }
};
struct preprocessor_role {
    using tag = preprocessor_tag;
    static constexpr std::string_view tag_name = "preprocessor_tag";
    static constexpr how_many count = how_many::any;
    template <class T> static constexpr bool played_by = enable_preprocessor<T>;
    template <class T, class M> static constexpr bool met_by = Preprocessor<T, M>;
    template <class T, class M> static constexpr void diagnose() { diagnose_preprocessor<T, M>(); }
};
struct expander_role {
    using tag = expander_tag;
    static constexpr std::string_view tag_name = "expander_tag";
    static constexpr how_many count = how_many::at_most_one;
    template <class T> static constexpr bool played_by = enable_expander<T>;
    template <class T, class M> static constexpr bool met_by = Expander<T>;
    template <class T, class M> static constexpr void diagnose() { SPOOL_DETAIL_UNMET(T, expand, SPOOL_DETAIL_EXPANDER_EXPAND); }
    template <class Set> static constexpr void miscounted() { static_assert(requirement_unmet_by<Set>::value, SPOOL_DETAIL_ONE_EXPANDER); }
};
struct clock_role {
    using tag = clock_tag;
    static constexpr std::string_view tag_name = "clock_tag";
    static constexpr how_many count = how_many::at_most_one;
    template <class T> static constexpr bool played_by = enable_clock<T>;
    template <class T, class M> static constexpr bool met_by = Clock<T>;
    template <class T, class M> static constexpr void diagnose() { SPOOL_DETAIL_UNMET(T, now, SPOOL_DETAIL_CLOCK_NOW); }
    template <class Set> static constexpr void miscounted() { static_assert(requirement_unmet_by<Set>::value, SPOOL_DETAIL_ONE_CLOCK); }
};
struct retry_policy_role {
    using tag = retry_policy_tag;
    static constexpr std::string_view tag_name = "retry_policy_tag";
    static constexpr how_many count = how_many::at_most_one;
    template <class T> static constexpr bool played_by = enable_retry_policy<T>;
    template <class T, class M> static constexpr bool met_by = RetryPolicy<T>;
    template <class T, class M> static constexpr void diagnose() {
        static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_RETRY_POLICY_LIMITS);
    }
    template <class Set> static constexpr void miscounted() { static_assert(requirement_unmet_by<Set>::value, SPOOL_DETAIL_ONE_RETRY_POLICY); }
};
struct postprocessor_role {
    using tag = postprocessor_tag;
    static constexpr std::string_view tag_name = "postprocessor_tag";
    static constexpr how_many count = how_many::any;
    template <class T> static constexpr bool played_by = enable_postprocessor<T>;
    template <class T, class M> static constexpr bool met_by = Postprocessor<T, M>;
    template <class T, class M> static constexpr void diagnose() { SPOOL_DETAIL_UNMET(T, postprocess, SPOOL_DETAIL_POSTPROCESSOR_POSTPROCESS); }
};
struct outbound_hook_role {
    using tag = outbound_hook_tag;
    static constexpr std::string_view tag_name = "outbound_hook_tag";
    static constexpr how_many count = how_many::any;
    template <class T> static constexpr bool played_by = enable_outbound_hook<T>;
    template <class T, class M> static constexpr bool met_by = OutboundHook<T, M>;
    template <class T, class M> static constexpr void diagnose() { SPOOL_DETAIL_UNMET(T, finishing, SPOOL_DETAIL_OUTBOUND_HOOK_FINISHING); }
};
struct observer_role {
    using tag = observer_tag;
    static constexpr std::string_view tag_name = "observer_tag";
    static constexpr how_many count = how_many::any;
    template <class T> static constexpr bool played_by = enable_observer<T>;
    template <class T, class M> static constexpr bool met_by = Observer<T>;
    template <class T, class M> static constexpr void diagnose() { static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_OBSERVER_EVENTS); }
};

struct setting_role {
    using tag = setting_tag;
    static constexpr std::string_view tag_name = "setting_tag";
    static constexpr how_many count = how_many::any;
    template <class T> static constexpr bool played_by = enable_setting<T>;
    template <class T, class M> static constexpr bool met_by = true;
    template <class T, class M> static constexpr void diagnose() {}
};

#undef SPOOL_DETAIL_UNMET

/// Every role, in the order a policy's roles are checked.
inline constexpr auto roles = boost::hana::tuple_t<store_role, transport_role, preprocessor_role, expander_role, clock_role,
                                                   retry_policy_role, postprocessor_role, outbound_hook_role, observer_role, setting_role>;

// The "no role" message is a literal (static_assert takes nothing else before
// C++26): it must name every role's tag.
constexpr bool names_every_role(std::string_view message) {
    bool all = true;
    boost::hana::for_each(roles, [&](auto role) {
        all = all && message.find(decltype(role)::type::tag_name) != std::string_view::npos;
    });
    return all;
}
static_assert(names_every_role(SPOOL_DETAIL_NOT_A_POLICY), "SPOOL_DETAIL_NOT_A_POLICY must name every role's tag");

// --- Derived --------------------------------------------------------------------

// The table as a plain pack, unpacked once: every derivation below is a fold
// over it, instantiated per policy type. (Hana's generic lambdas, one per
// policy and question, cost clang a tenth of a second on a spooler of seven
// policies; a fold costs next to nothing.) A role a type does not play has its
// requirements never instantiated.
template <class R, class T, class M>
constexpr bool meets_if_played() {
    if constexpr (R::template played_by<T>) return R::template met_by<T, M>;
    else return true;
}

template <class... Roles>
struct role_list {
    template <class T>
    static constexpr bool any_played = (Roles::template played_by<T> || ...);
    template <class T, class M>
    static constexpr bool all_met = (meets_if_played<Roles, T, M>() && ...);
    template <class Tag>
    static constexpr bool has_tag = (std::is_same_v<typename Roles::tag, Tag> || ...);
    template <class T, class Tag>
    static constexpr bool played_as = ((std::is_same_v<typename Roles::tag, Tag> && Roles::template played_by<T>) || ...);
    template <class Set>
    static constexpr bool counted_right = (allowed(Roles::count, Set::template count<Roles>) && ...);
};
using role_table = typename decltype(boost::hana::unpack(roles, boost::hana::template_<role_list>))::type;

template <class T>
inline constexpr bool has_role = role_table::any_played<T>;

/// Whether T plays the role Tag names, by its spool_concept or by the role's
/// enable_ variable; a tag that names no role of its own (coupled_store_tag)
/// is taken as it is declared.
template <class T, class Tag>
inline constexpr bool plays = [] {
    if constexpr (role_table::has_tag<Tag>) return role_table::played_as<T, Tag>;
    else return declares<T, Tag>;
}();

/// Whether T plays some role and meets the requirements of every role it plays.
template <class T, class M>
constexpr bool meets_its_roles() {
    return has_role<T> && role_table::all_met<T, M>;
}

// The first role, of `Role, Rest...`, that T plays and misses a requirement of.
template <class T, class M, class Role, class... Rest>
constexpr void diagnose_first_role(boost::hana::basic_type<Role>, Rest... rest) {
    if constexpr (Role::template played_by<T> && !Role::template met_by<T, M>) Role::template diagnose<T, M>();
    else if constexpr (sizeof...(Rest) > 0) diagnose_first_role<T, M>(rest...);
}

/// One static_assert, for the first role T plays and misses a requirement of.
template <class T, class M>
constexpr void diagnose_policy() {
    if constexpr (!has_role<T>) static_assert(requirement_unmet_by<T>::value, SPOOL_DETAIL_NOT_A_POLICY);
    else boost::hana::unpack(roles, [](auto... role) { diagnose_first_role<T, M>(role...); });
}

} // namespace spool::detail
