#pragma once

// Every compile-time diagnostic spool prints, in one place. These are macros
// because static_assert takes only a string literal before C++26. Each
// operation a role requires has two texts: one for a type that lacks the
// member, one for a type that has a member of that name that spool cannot
// call as it needs (wrong parameters, return type or const).

// clang-format off
#define SPOOL_DETAIL_MISSING(role, what, member, declaration, note) \
  "spool::" role ": the " what " is missing `" member "`. Add `" declaration "`" note
#define SPOOL_DETAIL_HAS_BUT(role, what, member, declaration, note) \
  "spool::" role ": the " what " has `" member "`, but not as spool calls it (check its parameters, return type and const). Declare `" declaration "`" note

// The roles' tags, as SPOOL_DETAIL_NOT_A_POLICY lists them; detail/roles.hpp
// checks at compile time that it names every role's tag.
#define SPOOL_DETAIL_NOT_A_POLICY \
  "spool::spooler: this type has no spool role. Add one member: `using spool_concept = spool::store_tag;` " \
  "(or transport_tag, preprocessor_tag, expander_tag, clock_tag, retry_policy_tag, postprocessor_tag, " \
  "outbound_hook_tag, observer_tag, setting_tag), or specialise the role's enable_ variable for it."
#define SPOOL_DETAIL_ONE_STORE \
  "spool::spooler: compose exactly one Store (a type with `using spool_concept = spool::store_tag;`)."
#define SPOOL_DETAIL_ONE_EXPANDER "spool::spooler: compose at most one Expander."
#define SPOOL_DETAIL_ONE_CLOCK "spool::spooler: compose at most one Clock."
#define SPOOL_DETAIL_ONE_RETRY_POLICY "spool::spooler: compose at most one RetryPolicy."

#define SPOOL_DETAIL_STORE_MESSAGE_TYPE \
  "spool::Store: the store names no message type. Add `using message_type = spool::message;` (or spool::basic_message<YourPayload>)."
#define SPOOL_DETAIL_STORE_CREATE_DECL "spool::result<spool::message_id> create(spool::folder_id, const message_type&);"
#define SPOOL_DETAIL_STORE_LOAD_DECL "spool::result<message_type> load(spool::message_id) const;"
#define SPOOL_DETAIL_STORE_SAVE_DECL "std::error_code save(spool::message_id, const message_type&);"
#define SPOOL_DETAIL_STORE_ENQUEUE_DECL "std::error_code enqueue(spool::message_id, const message_type&);"
#define SPOOL_DETAIL_STORE_ABORT_DECL "std::error_code abort_submit(spool::message_id, const message_type&);"
#define SPOOL_DETAIL_STORE_FINISH_DECL "std::error_code finish(spool::message_id, const message_type&);"
#define SPOOL_DETAIL_STORE_QUEUE_DECL "std::vector<spool::queue_entry> outgoing_queue() const;"
#define SPOOL_DETAIL_STORE_CONTENTS_DECL "std::vector<spool::message_id> contents(spool::folder_id) const;"
#define SPOOL_DETAIL_STORE_CREATE SPOOL_DETAIL_MISSING("Store", "store", "create", SPOOL_DETAIL_STORE_CREATE_DECL, "")
#define SPOOL_DETAIL_STORE_CREATE_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "create", SPOOL_DETAIL_STORE_CREATE_DECL, "")
#define SPOOL_DETAIL_STORE_LOAD SPOOL_DETAIL_MISSING("Store", "store", "load", SPOOL_DETAIL_STORE_LOAD_DECL, "")
#define SPOOL_DETAIL_STORE_LOAD_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "load", SPOOL_DETAIL_STORE_LOAD_DECL, "")
#define SPOOL_DETAIL_STORE_SAVE SPOOL_DETAIL_MISSING("Store", "store", "save", SPOOL_DETAIL_STORE_SAVE_DECL, "")
#define SPOOL_DETAIL_STORE_SAVE_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "save", SPOOL_DETAIL_STORE_SAVE_DECL, "")
#define SPOOL_DETAIL_STORE_ENQUEUE SPOOL_DETAIL_MISSING("Store", "store", "enqueue", SPOOL_DETAIL_STORE_ENQUEUE_DECL, "")
#define SPOOL_DETAIL_STORE_ENQUEUE_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "enqueue", SPOOL_DETAIL_STORE_ENQUEUE_DECL, "")
#define SPOOL_DETAIL_STORE_ABORT SPOOL_DETAIL_MISSING("Store", "store", "abort_submit", SPOOL_DETAIL_STORE_ABORT_DECL, "")
#define SPOOL_DETAIL_STORE_ABORT_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "abort_submit", SPOOL_DETAIL_STORE_ABORT_DECL, "")
#define SPOOL_DETAIL_STORE_FINISH SPOOL_DETAIL_MISSING("Store", "store", "finish", SPOOL_DETAIL_STORE_FINISH_DECL, "")
#define SPOOL_DETAIL_STORE_FINISH_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "finish", SPOOL_DETAIL_STORE_FINISH_DECL, "")
#define SPOOL_DETAIL_STORE_QUEUE SPOOL_DETAIL_MISSING("Store", "store", "outgoing_queue", SPOOL_DETAIL_STORE_QUEUE_DECL, "")
#define SPOOL_DETAIL_STORE_QUEUE_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "outgoing_queue", SPOOL_DETAIL_STORE_QUEUE_DECL, "")
#define SPOOL_DETAIL_STORE_CONTENTS SPOOL_DETAIL_MISSING("Store", "store", "contents", SPOOL_DETAIL_STORE_CONTENTS_DECL, "")
#define SPOOL_DETAIL_STORE_CONTENTS_WRONG SPOOL_DETAIL_HAS_BUT("Store", "store", "contents", SPOOL_DETAIL_STORE_CONTENTS_DECL, "")

#define SPOOL_DETAIL_ADDRESS_TYPES_DECL "spool::address_types address_types() const;"
#define SPOOL_DETAIL_TRANSMIT_DECL "spool::transmit_result transmit(spool::transmission<M>&);` or, asynchronous, `void async_transmit(spool::transmission<M>&, spool::transmit_handler);"
#define SPOOL_DETAIL_TRANSPORT_ADDRESS_TYPES SPOOL_DETAIL_MISSING("Transport", "transport", "address_types", SPOOL_DETAIL_ADDRESS_TYPES_DECL, "")
#define SPOOL_DETAIL_TRANSPORT_ADDRESS_TYPES_WRONG SPOOL_DETAIL_HAS_BUT("Transport", "transport", "address_types", SPOOL_DETAIL_ADDRESS_TYPES_DECL, "")
#define SPOOL_DETAIL_TRANSPORT_TRANSMIT SPOOL_DETAIL_MISSING("Transport", "transport", "transmit", SPOOL_DETAIL_TRANSMIT_DECL, " (M: the store's message_type)")
#define SPOOL_DETAIL_TRANSPORT_TRANSMIT_WRONG SPOOL_DETAIL_HAS_BUT("Transport", "transport", "transmit", SPOOL_DETAIL_TRANSMIT_DECL, " (M: the store's message_type)")

#define SPOOL_DETAIL_TRANSPORT_ASYNC_TRANSMIT_WRONG SPOOL_DETAIL_HAS_BUT("Transport", "transport", "async_transmit", "void async_transmit(spool::transmission<M>&, spool::transmit_handler);", " (M: the store's message_type)")

#define SPOOL_DETAIL_TRANSPORT_MAIL_WAITING \
  "spool::ReceivingTransport: the transport has `receive` but never says when mail waits. Add `bool mail_waiting();` (polled) or `void on_mail_waiting(spool::mail_signal);` (it signals)."

#define SPOOL_DETAIL_POSTPROCESS_DECL "spool::postprocess_result postprocess(spool::postprocessing<M>&);"
#define SPOOL_DETAIL_POSTPROCESSOR_POSTPROCESS SPOOL_DETAIL_MISSING("Postprocessor", "postprocessor", "postprocess", SPOOL_DETAIL_POSTPROCESS_DECL, " (M: the store's message_type)")
#define SPOOL_DETAIL_POSTPROCESSOR_POSTPROCESS_WRONG SPOOL_DETAIL_HAS_BUT("Postprocessor", "postprocessor", "postprocess", SPOOL_DETAIL_POSTPROCESS_DECL, " (M: the store's message_type)")
#define SPOOL_DETAIL_FINISHING_DECL "void finishing(M&);"
#define SPOOL_DETAIL_OUTBOUND_HOOK_FINISHING SPOOL_DETAIL_MISSING("OutboundHook", "hook", "finishing", SPOOL_DETAIL_FINISHING_DECL, " (M: the store's message_type)")
#define SPOOL_DETAIL_OUTBOUND_HOOK_FINISHING_WRONG SPOOL_DETAIL_HAS_BUT("OutboundHook", "hook", "finishing", SPOOL_DETAIL_FINISHING_DECL, " (M: the store's message_type)")
#define SPOOL_DETAIL_OBSERVER_EVENTS \
  "spool::Observer: the observer handles no event. Add one of `void on_new_mail(const spool::new_mail_event&);`, on_message_finished, on_recipient_status, on_queue_changed."

#define SPOOL_DETAIL_PREPROCESS_DECL "spool::preprocess_result preprocess(spool::preprocessing<M>&);"
#define SPOOL_DETAIL_PREPROCESSOR_ADDRESS_TYPES \
  SPOOL_DETAIL_MISSING("Preprocessor", "preprocessor", "address_types", SPOOL_DETAIL_ADDRESS_TYPES_DECL, " (address_types::any() for all)")
#define SPOOL_DETAIL_PREPROCESSOR_ADDRESS_TYPES_WRONG \
  SPOOL_DETAIL_HAS_BUT("Preprocessor", "preprocessor", "address_types", SPOOL_DETAIL_ADDRESS_TYPES_DECL, " (address_types::any() for all)")
#define SPOOL_DETAIL_PREPROCESSOR_PREPROCESS SPOOL_DETAIL_MISSING("Preprocessor", "preprocessor", "preprocess", SPOOL_DETAIL_PREPROCESS_DECL, " (M: the store's message_type)")
#define SPOOL_DETAIL_PREPROCESSOR_PREPROCESS_WRONG SPOOL_DETAIL_HAS_BUT("Preprocessor", "preprocessor", "preprocess", SPOOL_DETAIL_PREPROCESS_DECL, " (M: the store's message_type)")

#define SPOOL_DETAIL_EXPAND_DECL "std::optional<std::vector<spool::recipient>> expand(const spool::recipient&);"
#define SPOOL_DETAIL_EXPANDER_EXPAND SPOOL_DETAIL_MISSING("Expander", "expander", "expand", SPOOL_DETAIL_EXPAND_DECL, "")
#define SPOOL_DETAIL_EXPANDER_EXPAND_WRONG SPOOL_DETAIL_HAS_BUT("Expander", "expander", "expand", SPOOL_DETAIL_EXPAND_DECL, "")
#define SPOOL_DETAIL_CLOCK_NOW SPOOL_DETAIL_MISSING("Clock", "clock", "now", "spool::time_point now() const;", "")
#define SPOOL_DETAIL_CLOCK_NOW_WRONG SPOOL_DETAIL_HAS_BUT("Clock", "clock", "now", "spool::time_point now() const;", "")
#define SPOOL_DETAIL_RETRY_POLICY_LIMITS \
  "spool::RetryPolicy: the policy needs `max_lifetime() const` and `backoff(unsigned attempts) const`, both returning std::chrono::seconds."

#define SPOOL_DETAIL_PREPROCESSOR_AFTER_LAST \
  "spool::spooler: a preprocessor is composed after one that must run last (spool::runs_last, such as spool::dkim_signer, which signs what the others wrote). Compose that one last."

#define SPOOL_DETAIL_NOT_MOVABLE \
  "spool::spooler: a policy must be movable, since the spooler keeps its own. Keep shared state behind a pointer (as spool's stores do), or pass std::ref(x) to keep yours."
// clang-format on
