// The README's quickstart: a transport of your own, and a spooler around it.
#include <spool/spool.hpp>

#include <iostream>

// A transport for SMS numbers. It prints instead of calling a gateway.
struct sms_gateway {
    using spool_concept = spool::transport_tag;

    spool::address_types address_types() const { return {"SMS"}; }

    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const spool::recipient& r : tx.recipients()) {
            std::cout << "SMS to " << r.address << ": " << tx.message().payload.subject << '\n';
            tx.sent(r); // or tx.failed(r, reason), or leave it for another transport
        }
        return spool::transmit_result::done(); // or retry_after(60s) while the gateway is down
    }
};

int main() {
    spool::spooler spooler{spool::memory_store{}, sms_gateway{}};

    spool::message m;
    m.payload.subject = "Your parcel is on its way";
    m.recipients.push_back({"Ann", "+15550100", "SMS"});

    auto client = spooler.client();
    auto id = client.send(m); // queued durably, returns at once
    if (!id) {
        std::cerr << "submit failed: " << id.error().message() << '\n';
        return 1;
    }
    spooler.drain(); // here, on this thread; a service calls spooler.start() once instead
    std::cout << "sent items: " << client.contents(spool::folders::sent_items).size() << '\n';
}
