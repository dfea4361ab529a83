#pragma once

// Every compile-time diagnostic spool prints, in one place. These are macros
// because static_assert takes only a string literal before C++26.

// clang-format off
#define SPOOL_DETAIL_NOT_A_POLICY \
  "spool::spooler: this type has no spool role. Add one member: `using spool_concept = spool::store_tag;` " \
  "(or transport_tag, preprocessor_tag, expander_tag, clock_tag, retry_policy_tag)."
#define SPOOL_DETAIL_ONE_STORE \
  "spool::spooler: compose exactly one Store (a type with `using spool_concept = spool::store_tag;`)."
#define SPOOL_DETAIL_ONE_EXPANDER "spool::spooler: compose at most one Expander."
#define SPOOL_DETAIL_ONE_CLOCK "spool::spooler: compose at most one Clock."
#define SPOOL_DETAIL_ONE_RETRY_POLICY "spool::spooler: compose at most one RetryPolicy."

#define SPOOL_DETAIL_STORE_MESSAGE_TYPE \
  "spool::Store: the store names no message type. Add `using message_type = spool::message;` (or spool::basic_message<YourPayload>)."
#define SPOOL_DETAIL_STORE_CREATE \
  "spool::Store: the store is missing `create`. Add `spool::result<spool::message_id> create(spool::folder_id, const message_type&);`"
#define SPOOL_DETAIL_STORE_LOAD \
  "spool::Store: the store is missing `load`. Add `spool::result<message_type> load(spool::message_id) const;`"
#define SPOOL_DETAIL_STORE_SAVE \
  "spool::Store: the store is missing `save`. Add `std::error_code save(spool::message_id, const message_type&);`"
#define SPOOL_DETAIL_STORE_ENQUEUE \
  "spool::Store: the store is missing `enqueue`. Add `std::error_code enqueue(spool::message_id, const message_type&);`"
#define SPOOL_DETAIL_STORE_ABORT \
  "spool::Store: the store is missing `abort_submit`. Add `std::error_code abort_submit(spool::message_id, const message_type&);`"
#define SPOOL_DETAIL_STORE_FINISH \
  "spool::Store: the store is missing `finish`. Add `std::error_code finish(spool::message_id, const message_type&);`"
#define SPOOL_DETAIL_STORE_QUEUE \
  "spool::Store: the store is missing `outgoing_queue`. Add `std::vector<spool::queue_entry> outgoing_queue() const;`"
#define SPOOL_DETAIL_STORE_CONTENTS \
  "spool::Store: the store is missing `contents`. Add `std::vector<spool::message_id> contents(spool::folder_id) const;`"

#define SPOOL_DETAIL_TRANSPORT_ADDRESS_TYPES \
  "spool::Transport: the transport is missing `address_types`. Add `spool::address_types address_types() const;`"
#define SPOOL_DETAIL_TRANSPORT_TRANSMIT \
  "spool::Transport: the transport is missing `transmit`. Add `spool::transmit_result transmit(spool::transmission<M>&);` (M: the store's message_type)"

#define SPOOL_DETAIL_TRANSPORT_MAIL_WAITING \
  "spool::ReceivingTransport: the transport has `receive` but never says when mail waits. Add `bool mail_waiting();` (polled) or `void on_mail_waiting(spool::mail_signal);` (it signals)."

#define SPOOL_DETAIL_POSTPROCESSOR_POSTPROCESS \
  "spool::Postprocessor: the postprocessor is missing `postprocess`. Add `spool::postprocess_result postprocess(spool::postprocessing<M>&);` (M: the store's message_type)"
#define SPOOL_DETAIL_OUTBOUND_HOOK_FINISHING \
  "spool::OutboundHook: the hook is missing `finishing`. Add `void finishing(M&);` (M: the store's message_type)"
#define SPOOL_DETAIL_OBSERVER_EVENTS \
  "spool::Observer: the observer handles no event. Add one of `void on_new_mail(const spool::new_mail_event&);`, on_message_finished, on_recipient_status, on_queue_changed."

#define SPOOL_DETAIL_PREPROCESSOR_ADDRESS_TYPES \
  "spool::Preprocessor: the preprocessor is missing `address_types`. Add `spool::address_types address_types() const;` (address_types::any() for all)"
#define SPOOL_DETAIL_PREPROCESSOR_PREPROCESS \
  "spool::Preprocessor: the preprocessor is missing `preprocess`. Add `spool::preprocess_result preprocess(spool::preprocessing<M>&);` (M: the store's message_type)"

#define SPOOL_DETAIL_EXPANDER_EXPAND \
  "spool::Expander: the expander is missing `expand`. Add `std::optional<std::vector<spool::recipient>> expand(const spool::recipient&);`"
#define SPOOL_DETAIL_CLOCK_NOW \
  "spool::Clock: the clock is missing `now`. Add `spool::time_point now() const;`"
#define SPOOL_DETAIL_RETRY_POLICY_LIMITS \
  "spool::RetryPolicy: the policy needs `max_lifetime() const` and `backoff(unsigned attempts) const`, both returning std::chrono::seconds."
// clang-format on
