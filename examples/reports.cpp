// Reports and new-mail notifications: Ann's message reaches Bob (she asked for
// a delivery report) but not a mailbox that no longer exists (a non-delivery
// report comes back, carrying her message so she can resend it). A reply
// arrives from Bob. A client observer prints every new mail as it is
// committed, and the non-delivery report is rendered as an RFC 3464 message.

#include <spool/mail/rfc3464.hpp>
#include <spool/spool.hpp>

#include <iostream>
#include <string>

namespace {

// What a mail client would do with notifications: refresh its folder view.
struct inbox_view {
    using spool_concept = spool::observer_tag;
    void on_new_mail(const spool::new_mail_event& e) {
        std::cout << "new mail #" << static_cast<unsigned>(e.id) << " (" << e.message_class << ") in folder "
                  << static_cast<unsigned>(e.folder) << '\n';
    }
    void on_recipient_status(const spool::recipient_status_event& e) {
        const bool sent = std::holds_alternative<spool::status::sent>(e.recipient.status);
        std::cout << "status: " << e.recipient.address << (sent ? " sent" : " failed") << '\n';
    }
};

} // namespace

int main() {
    spool::memory_store store;
    spool::memory_transport smtp{{"SMTP"}};
    smtp.reject("old-colleague@example.org");
    spool::manual_clock clock;
    spool::spooler spooler{store, smtp, clock, inbox_view{}};
    auto client = spooler.client();

    spool::message m;
    m.sender = {"Ann", "ann@example.org", "SMTP"};
    m.payload.subject = "Lunch on Friday?";
    m.payload.body = "Shall we try the new place?";
    m.reports.delivery = true;
    m.recipients = {{"Bob", "bob@example.org", "SMTP"}, {"Old colleague", "old-colleague@example.org", "SMTP"}};
    client.send(m);

    spool::message reply;
    reply.sender = {"Bob", "bob@example.org", "SMTP"};
    reply.payload.subject = "Re: Lunch on Friday?";
    reply.recipients = {{"Ann", "ann@example.org", "SMTP"}};
    smtp.arrive(reply);

    spooler.drain();

    for (auto id : client.contents(spool::folders::inbox)) {
        const auto msg = client.open(id).value();
        std::cout << "inbox: " << msg.payload.subject << '\n';
        if (msg.report && msg.report->kind == spool::report_kind::non_delivery) {
            std::cout << "--- as RFC 3464 ---\n" << spool::render_delivery_status(msg) << "--- end ---\n";
            const auto& original = msg.report->original.at(0);
            std::cout << "the report carries the original: \"" << original.payload.subject << "\"\n";
        }
    }
    return 0;
}
