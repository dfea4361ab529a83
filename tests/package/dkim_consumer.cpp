#include <spool/dkim.hpp>

#include <cstdio>
#include <cstring>

// Links libopendkim and OpenSSL through spool::dkim: the library starts, and a
// missing key is refused when the signer is made, as documented.
struct renderer {
    std::string operator()(const spool::message&) const { return "Subject: x\r\n\r\nx\r\n"; }
};

int main() {
    try {
        spool::dkim_signer signer{{.keys = {{"example.org", "s", "/nonexistent/key.pem"}}}, renderer{}};
    } catch (const spool::dkim_key_error& e) {
        std::printf("dkim consumer: %s\n", e.what());
        return std::strstr(e.what(), "cannot be opened") ? 0 : 1;
    }
    return 1;
}
