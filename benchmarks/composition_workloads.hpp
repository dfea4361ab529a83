#pragma once

// The ways of doing one job that benchmarks/composition.cpp times and
// benchmarks/instruction_counts.cpp counts instructions of, written once so
// that both measure the same code ((b0), a floor below (b), is described at (b)):
//   (a) spool: a spooler of the in-memory store, two no-op transports (SMTP,
//       FAX) and one preprocessor, composed at compile time;
//   (b) hand-written: the same store operations on the same store, in a plain
//       loop, with the transports' and preprocessor's work inlined: the
//       zero-overhead limit;
//   (c) runtime-polymorphic: the same pipeline from virtual Store, Transport
//       and Preprocessor interfaces held in registries, as MAPI's COM providers compose.
// Every message has 3 recipients (two SMTP, one FAX). Each function submits
// and drains n messages, from an empty store, once.

#include <spool/spool.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace workload {

using store_type = spool::memory_store_st;

inline spool::message three_recipients() {
    spool::message m;
    m.recipients = {{"A", "a@example.org", "SMTP"}, {"B", "b@example.org", "SMTP"}, {"F", "+15550100", "FAX"}};
    m.payload.subject = "benchmark";
    m.sent_mail = spool::disposition::delete_after_submit{};
    return m;
}

// What (a) and (c) do: n messages submitted, then drained.
template <class Spooler>
void submit_and_drain(Spooler& sp, const spool::message& m, std::int64_t n) {
    auto client = sp.client();
    for (std::int64_t i = 0; i < n; ++i) client.send(m);
    sp.drain();
}

// --- (a) spool ---------------------------------------------------------------
template <const char* Type>
struct noop_transport {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return {Type}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    }
};
inline constexpr char smtp_type[] = "SMTP";
inline constexpr char fax_type[] = "FAX";

struct noop_preprocessor {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>& job) {
        benchmark::DoNotOptimize(job.message().payload.subject.size());
        return spool::preprocess_result::ok();
    }
};

inline void spool_pipeline(const spool::message& m, std::int64_t n) {
    spool::spooler sp{store_type{}, noop_transport<smtp_type>{}, noop_transport<fax_type>{}, noop_preprocessor{}, spool::inline_transports{}};
    submit_and_drain(sp, m, n);
}

// --- (b) hand-written, and (b0) its floor -------------------------------------------
// (b) is the same job written by hand for exactly this configuration: the store
// operations spool makes, on the same store, and the decisions any spooler
// must make for this data, inlined: recipients checked, the submit time
// stamped, each recipient routed by its address type to the SMTP or FAX
// transport (and failed if neither takes it), the time of sending recorded,
// and whether a report is due. Clock reads are the same as spool's.
// (b0) is a floor below (b): the store operations and the copies they need,
// none of the decisions. Not a program that does the job; shown so that the
// cost of those decisions is visible too.
template <bool Decide>
void hand_written(const spool::message& m, std::int64_t n) {
    store_type store;
    for (std::int64_t i = 0; i < n; ++i) { // send: created already queued, in one step
        auto msg = m;
        if constexpr (Decide)
            if (msg.recipients.empty() ||
                !std::all_of(msg.recipients.begin(), msg.recipients.end(), [](const auto& r) { return r.resolved(); }))
                continue;
        msg.flags = msg.flags | spool::message_flags::submitted | spool::message_flags::unsent;
        msg.client_submit_time = spool::system_clock{}.now();
        msg.submission = spool::submit_flags::preprocess;
        store.create_queued(spool::folders::outbox, msg);
    }
    for (const auto& entry : store.outgoing_queue()) { // load, preprocess, save, transmit, finish
        auto msg = *store.load(entry.id);
        const auto now = spool::system_clock{}.now();
        benchmark::DoNotOptimize(msg.payload.subject.size());
        msg.submission = spool::submit_flags::none;
        store.save(entry.id, msg);
        bool report_due = false;
        for (auto& r : msg.recipients) {
            r.responsibility = true;
            if constexpr (!Decide) {
                r.status = spool::status::sent{now};
                continue;
            }
            if (r.address_type == smtp_type || r.address_type == fax_type)
                r.status = spool::status::sent{now};
            else
                r.status = spool::status::failed{"no transport", "5.4.4"};
            r.reported = true;
            const auto asked = r.reports.value_or(msg.reports);
            report_due = report_due || (std::holds_alternative<spool::status::sent>(r.status) ? asked.delivery
                                                                                              : !asked.non_delivery_suppressed);
        }
        benchmark::DoNotOptimize(report_due);
        msg.flags = spool::message_flags::read;
        store.finish(entry.id, msg);
    }
}

// --- (c) runtime-polymorphic parts -------------------------------------------------
struct istore {
    virtual ~istore() = default;
    virtual spool::result<spool::message_id> create(spool::folder_id, const spool::message&) = 0;
    virtual spool::result<spool::message_id> create_queued(spool::folder_id, const spool::message&) = 0;
    virtual spool::result<spool::message> load(spool::message_id) const = 0;
    virtual std::error_code save(spool::message_id, const spool::message&) = 0;
    virtual std::error_code enqueue(spool::message_id, const spool::message&) = 0;
    virtual std::error_code abort_submit(spool::message_id, const spool::message&) = 0;
    virtual std::error_code finish(spool::message_id, const spool::message&) = 0;
    virtual std::vector<spool::queue_entry> outgoing_queue() const = 0;
    virtual std::vector<spool::message_id> contents(spool::folder_id) const = 0;
};
struct memory_provider final : istore {
    store_type s;
    spool::result<spool::message_id> create(spool::folder_id f, const spool::message& m) override { return s.create(f, m); }
    spool::result<spool::message_id> create_queued(spool::folder_id f, const spool::message& m) override {
        return s.create_queued(f, m);
    }
    spool::result<spool::message> load(spool::message_id id) const override { return s.load(id); }
    std::error_code save(spool::message_id id, const spool::message& m) override { return s.save(id, m); }
    std::error_code enqueue(spool::message_id id, const spool::message& m) override { return s.enqueue(id, m); }
    std::error_code abort_submit(spool::message_id id, const spool::message& m) override { return s.abort_submit(id, m); }
    std::error_code finish(spool::message_id id, const spool::message& m) override { return s.finish(id, m); }
    std::vector<spool::queue_entry> outgoing_queue() const override { return s.outgoing_queue(); }
    std::vector<spool::message_id> contents(spool::folder_id f) const override { return s.contents(f); }
};
struct itransport {
    virtual ~itransport() = default;
    virtual const std::string& address_type() const = 0;
    virtual void submit(spool::transmission<spool::message>& tx, const spool::recipient& r) = 0;
};
struct noop_provider final : itransport {
    std::string type;
    explicit noop_provider(std::string t) : type(std::move(t)) {}
    const std::string& address_type() const override { return type; }
    void submit(spool::transmission<spool::message>& tx, const spool::recipient& r) override { tx.sent(r); }
};
struct ipreprocessor {
    virtual ~ipreprocessor() = default;
    virtual bool preprocess(spool::message&) = 0;
};
struct noop_pre_provider final : ipreprocessor {
    bool preprocess(spool::message& m) override {
        benchmark::DoNotOptimize(m.payload.subject.size());
        return true;
    }
};

// spool policies that only forward to the registries.
struct virtual_store {
    using spool_concept = spool::store_tag;
    using message_type = spool::message;
    std::shared_ptr<istore> p;
    spool::result<spool::message_id> create(spool::folder_id f, const spool::message& m) { return p->create(f, m); }
    spool::result<spool::message_id> create_queued(spool::folder_id f, const spool::message& m) { return p->create_queued(f, m); }
    spool::result<spool::message> load(spool::message_id id) const { return p->load(id); }
    std::error_code save(spool::message_id id, const spool::message& m) { return p->save(id, m); }
    std::error_code enqueue(spool::message_id id, const spool::message& m) { return p->enqueue(id, m); }
    std::error_code abort_submit(spool::message_id id, const spool::message& m) { return p->abort_submit(id, m); }
    std::error_code finish(spool::message_id id, const spool::message& m) { return p->finish(id, m); }
    std::vector<spool::queue_entry> outgoing_queue() const { return p->outgoing_queue(); }
    std::vector<spool::message_id> contents(spool::folder_id f) const { return p->contents(f); }
};
struct transport_registry {
    using spool_concept = spool::transport_tag;
    std::vector<std::unique_ptr<itransport>> providers;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients())
            for (auto& p : providers)
                if (p->address_type() == r.address_type) {
                    p->submit(tx, r);
                    break;
                }
        return spool::transmit_result::done();
    }
};
struct preprocessor_registry {
    using spool_concept = spool::preprocessor_tag;
    std::vector<std::unique_ptr<ipreprocessor>> providers;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>& job) {
        for (auto& p : providers)
            if (!p->preprocess(job.message())) return spool::preprocess_result::fail("provider failed");
        return spool::preprocess_result::ok();
    }
};

inline void runtime_polymorphic(const spool::message& m, std::int64_t n) {
    transport_registry transports;
    transports.providers.push_back(std::make_unique<noop_provider>("SMTP"));
    transports.providers.push_back(std::make_unique<noop_provider>("FAX"));
    preprocessor_registry preprocessors;
    preprocessors.providers.push_back(std::make_unique<noop_pre_provider>());
    spool::spooler sp{virtual_store{std::make_shared<memory_provider>()}, std::move(transports), std::move(preprocessors)};
    submit_and_drain(sp, m, n);
}

} // namespace workload
