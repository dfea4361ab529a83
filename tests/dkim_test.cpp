// spool::dkim_signer, checked by two verifiers that share no code with the
// signing path: dkimpy (python3-dkim, tests/dkim/verify.py) and libopendkim's
// own verifier, each given the public keys without DNS (dkimpy's dnsfunc, and
// libopendkim's DKIM_QUERY_FILE). Keys are made for the run by openssl genpkey.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/dkim.hpp>
#include <spool/mail/codec.hpp>
#include <spool/smtp/detail/wire.hpp>
#include <spool/smtp/message.hpp>
#include <spool/spool.hpp>
#include <spool/testing/transport_kit.hpp>

#include <spool/dkim/detail/opendkim.hpp> // libopendkim's verifier, for the test

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

// libopendkim 2.11.0~beta2 (Debian 12) does not free what dkim_privkey_load
// allocates for an Ed25519 key when the signing handle is freed: about 470
// bytes per Ed25519 signature (docs/dkim.md, "Known defects"). Under
// LeakSanitizer, that allocation site alone is let through, and full stacks
// are kept so that the allocations OpenSSL makes for it are matched too.
extern "C" const char* __lsan_default_suppressions() { return "leak:dkim_privkey_load\n"; }
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }

namespace {

namespace fs = std::filesystem;

// A folder of this process's own, with an RSA 2048 and an Ed25519 key for
// a.test (selectors "rsa" and "ed"), and the records to publish for them.
struct keys {
    fs::path dir = fs::temp_directory_path() / ("spool-dkim-" + std::to_string(::getpid()));
    std::map<std::string, std::string> records; // DNS name -> TXT

    keys() {
        fs::create_directories(dir);
        make("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
        make("ed", "-algorithm ed25519");
        make("other-rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
        // Made as `spoolctl dkim-key` makes them, with the record it prints.
        records["made-rsa._domainkey.a.test"] = spool::make_dkim_key(pem("made-rsa"), spool::dkim_key_type::rsa);
        records["made-ed._domainkey.a.test"] = spool::make_dkim_key(pem("made-ed"), spool::dkim_key_type::ed25519);
    }
    ~keys() { fs::remove_all(dir); }
    keys(const keys&) = delete;
    keys& operator=(const keys&) = delete;

    fs::path pem(const std::string& name) const { return dir / (name + ".pem"); }

    void make(const std::string& name, const std::string& how) {
        const std::string command = "openssl genpkey " + how + " -out " + pem(name).string() + " 2>/dev/null";
        REQUIRE(std::system(command.c_str()) == 0);
        records[name + "._domainkey.a.test"] = spool::dkim_dns_record(pem(name));
    }

    spool::dkim_options options(bool ed25519 = true) const {
        spool::dkim_options o;
        o.keys.push_back({"a.test", "rsa", pem("rsa")});
        if (ed25519) o.keys.push_back({"A.Test", "ed", pem("ed")});
        return o;
    }
};

keys& the_keys() {
    static keys k;
    return k;
}

std::string run(const std::string& command) {
    std::string out;
    std::FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return out;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
    pclose(pipe);
    return out;
}

// dkimpy's verdict on each signature, in order: "pass" or "fail".
std::vector<std::string> dkimpy(const std::string& text) {
    const auto& k = the_keys();
    const fs::path message = k.dir / "message.eml", records = k.dir / "records.json";
    std::ofstream(message, std::ios::binary) << text;
    std::ofstream json(records);
    json << "{";
    const char* comma = "";
    for (const auto& [name, record] : k.records) {
        json << comma << "\"" << name << "\": \"" << record << "\"";
        comma = ", ";
    }
    json << "}";
    json.close();
    std::vector<std::string> verdicts;
    std::string out = run(std::string(SPOOL_DKIM_PYTHON) + " " + SPOOL_DKIM_VERIFY + " " + message.string() + " " +
                          records.string());
    for (std::size_t pos = 0; pos < out.size();) {
        const std::size_t end = out.find('\n', pos);
        verdicts.push_back(out.substr(pos, end - pos));
        pos = end == std::string::npos ? out.size() : end + 1;
    }
    return verdicts;
}

// libopendkim's verifier: for each signature it found, whether it passed
// (header hash and body hash both), in its order.
std::vector<std::string> opendkim(const std::string& text) {
    const auto& k = the_keys();
    const fs::path file = k.dir / "keys.txt";
    {
        std::ofstream out(file);
        for (const auto& [name, record] : k.records) out << name << " " << record << "\n";
    }
    DKIM_LIB* lib = dkim_init(nullptr, nullptr);
    REQUIRE(lib);
    dkim_query_t method = DKIM_QUERY_FILE;
    REQUIRE(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method, sizeof method) == DKIM_STAT_OK);
    const std::string path = file.string();
    REQUIRE(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, const_cast<char*>(path.c_str()), path.size()) == DKIM_STAT_OK);
    DKIM_STAT status = DKIM_STAT_OK;
    DKIM* d = dkim_verify(lib, reinterpret_cast<const unsigned char*>("test"), nullptr, &status);
    REQUIRE(d);
    spool::detail::for_each_field(text, [&](std::string_view name, std::string_view value) {
        const std::string whole(name.data(), static_cast<std::size_t>(value.data() + value.size() - name.data()));
        dkim_header(d, reinterpret_cast<unsigned char*>(const_cast<char*>(whole.data())), whole.size());
    });
    dkim_eoh(d);
    std::string body(spool::detail::mime_body(text));
    if (!body.empty()) dkim_body(d, reinterpret_cast<unsigned char*>(body.data()), body.size());
    dkim_eom(d, nullptr);
    DKIM_SIGINFO** sigs = nullptr;
    int count = 0;
    std::vector<std::string> verdicts;
    if (dkim_getsiglist(d, &sigs, &count) == DKIM_STAT_OK)
        for (int i = 0; i < count; ++i)
            verdicts.push_back((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sigs[i]) == DKIM_SIGBH_MATCH
                                   ? "pass" : "fail");
    dkim_free(d);
    dkim_close(lib);
    return verdicts;
}

const std::vector<std::string> both_pass{"pass", "pass"};

spool::message from_a(std::string subject = "hello") {
    auto m = spool_test::mail({spool_test::smtp("bob@b.test")}, std::move(subject));
    m.id = spool::message_id{9};
    m.sender = {"Ann", "ann@a.test", "SMTP"};
    m.client_submit_time = spool::time_point{std::chrono::seconds{1'700'000'000}};
    return m;
}

// The message as the spooler leaves it: Message-ID stamped, then signed.
spool::message signed_copy(spool::message m, const spool::dkim_options& options) {
    spool::rfc5322_renderer renderer{{"mx.a.test"}};
    const auto now = spool::time_point{std::chrono::seconds{1'700'000'000}};
    auto stamped = spool::testing::run_preprocessor(spool::message_id_stamp{"mx.a.test"}, std::move(m), now);
    auto run = spool::testing::run_preprocessor(spool::dkim_signer{options, renderer}, std::move(stamped.message), now);
    REQUIRE(run.applies);
    REQUIRE(run.result.succeeded());
    return run.message;
}

std::string rendered(const spool::message& m) { return spool::rfc5322_renderer{{"mx.a.test"}}(m); }

// What a receiving server stores: the data as sent on the wire (dot-stuffed,
// CR LF only, long lines broken), read back as RFC 5321 §4.5.2 says.
std::string through_the_wire(const std::string& text) {
    std::string data;
    spool::detail::smtp::append_data(data, text);
    std::string received;
    for (std::size_t pos = 0; pos < data.size();) {
        const std::size_t end = data.find("\r\n", pos);
        std::string_view line(data.data() + pos, end - pos);
        pos = end + 2;
        if (line == ".") break;
        if (!line.empty() && line.front() == '.') line.remove_prefix(1);
        received.append(line).append("\r\n");
    }
    return received;
}

std::string multipart() {
    std::string attachment;
    for (int i = 0; i < 200; ++i) attachment += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    return "From: Ann <ann@a.test>\r\nTo: bob@b.test\r\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
           "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
           "--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\r\n.a line that starts with a dot\r\n..and two\r\n" +
           std::string(990, 'x') + "\r\ntrailing space   \r\n\ttab first\r\n\r\n\r\n"
           "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Gr\xc3\xbc\xc3\x9f" "e</p>\r\n--inner--\r\n"
           "--outer\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n"
           "Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\n" +
           attachment + "--outer--\r\n";
}

} // namespace

TEST_CASE("both verifiers pass both signatures, in both canonicalisations, of a composed and a multipart message") {
    const std::vector<std::string> both_fail{"fail", "fail"};
    for (const auto canonicalisation : {spool::dkim_canonicalization::relaxed, spool::dkim_canonicalization::simple}) {
        for (const bool own_mime : {false, true}) {
            INFO((canonicalisation == spool::dkim_canonicalization::simple ? "simple" : "relaxed")
                 << (own_mime ? ", multipart" : ", composed"));
            auto options = the_keys().options();
            options.header_canonicalization = options.body_canonicalization = canonicalisation;
            auto m = from_a("Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln");
            m.payload.body = "UTF-8 body: K\xc3\xb6ln\n.dot first\n" + std::string(1500, 'y') + "\n";
            if (own_mime) m.payload = {{}, {}, {}, multipart()};
            const std::string text = through_the_wire(rendered(signed_copy(m, options)));
            REQUIRE(text.rfind("DKIM-Signature: v=1; a=rsa-sha256;", 0) == 0);
            CHECK(text.find("a=ed25519-sha256") != std::string::npos);
            CHECK(dkimpy(text) == both_pass);
            CHECK(opendkim(text) == both_pass);

            // A changed body, a changed header, a second From: each fails both.
            std::string body = text;
            body.insert(body.find("\r\n\r\n") + 4, "X");
            std::string header = text;
            header.insert(header.find("\r\nFrom: ") + 8, "Eve ");
            std::string added = text;
            added.insert(added.find("\r\n\r\n") + 2, "From: eve@e.test\r\n");
            for (const auto& changed : {body, header, added}) {
                CHECK(dkimpy(changed) == both_fail);
                CHECK(opendkim(changed) == both_fail);
            }
        }
    }
}

TEST_CASE("a body without a final line end, or with bare LF line ends from the renderer, is signed as it is sent") {
    auto m = from_a();
    m.payload.body = "no final line end";
    std::string text = through_the_wire(rendered(signed_copy(m, the_keys().options())));
    CHECK(dkimpy(text) == both_pass);
    CHECK(opendkim(text) == both_pass);

    // A renderer of the user's own, with LF line ends (SmtpRenderer allows them).
    const auto lf_renderer = [](const spool::message& msg) {
        std::string out;
        for (char c : spool::rfc5322_renderer{{"mx.a.test"}}(msg))
            if (c != '\r') out += c;
        return out;
    };
    auto run = spool::testing::run_preprocessor(spool::dkim_signer{the_keys().options(), lf_renderer}, from_a(),
                                                spool::time_point{std::chrono::seconds{1'700'000'000}});
    REQUIRE(run.result.succeeded());
    text = through_the_wire(lf_renderer(run.message));
    CHECK(dkimpy(text) == both_pass);
    CHECK(opendkim(text) == both_pass);
}

TEST_CASE("a message of 10 MB is signed, and both verifiers pass it") {
    auto m = from_a();
    m.payload.body.reserve(10'500'000);
    for (int i = 0; m.payload.body.size() < 10'000'000; ++i) m.payload.body += "line " + std::to_string(i) + " of a long message\n";
    const std::string text = through_the_wire(rendered(signed_copy(m, the_keys().options(false))));
    CHECK(text.size() > 10'000'000);
    CHECK(dkimpy(text) == std::vector<std::string>{"pass"});
    CHECK(opendkim(text) == std::vector<std::string>{"pass"});
}

TEST_CASE("the signature is stored once: the stored message renders to the same bytes in another process, and verifies") {
    spool::memory_store store;
    spool::memory_transport transport{{"SMTP"}};
    spool::manual_clock clock;
    clock.set(spool::time_point{std::chrono::seconds{1'700'000'000}});
    spool::rfc5322_renderer renderer{{"mx.a.test"}};
    spool::spooler sp{store, transport, clock, spool::message_id_stamp{"mx.a.test"},
                      spool::dkim_signer{the_keys().options(), renderer}};
    static_assert(spool::runs_last<spool::dkim_signer<spool::rfc5322_renderer>>);
    auto m = from_a();
    const auto id = sp.client().send(m);
    REQUIRE(id);
    sp.drain();
    REQUIRE(transport.deliveries().size() == 1);
    const auto stored = store.load(*id).value();
    const auto copy = spool::decode<spool::mail_payload>(spool::encode(stored)).value(); // as another process reads it
    CHECK(renderer(copy) == renderer(stored));
    CHECK(std::count_if(stored.payload.headers.begin(), stored.payload.headers.end(),
                        [](const auto& h) { return h.first == "DKIM-Signature"; }) == 2);
    const std::string text = through_the_wire(renderer(copy));
    CHECK(dkimpy(text) == both_pass);
    CHECK(opendkim(text) == both_pass);
}

TEST_CASE("keys are chosen by the sender's domain or the configured one, and a domain without a key goes unsigned") {
    auto options = the_keys().options(false);
    options.keys.push_back({"c.test", "other-rsa", the_keys().pem("other-rsa")});
    auto m = from_a();
    m.sender.address = "ann@C.Test";
    CHECK(rendered(signed_copy(m, options)).find("d=c.test; s=other-rsa;") != std::string::npos);
    m.sender.address = "ann@nokey.test";
    CHECK(rendered(signed_copy(m, options)).find("DKIM-Signature") == std::string::npos);
    options.domain = "A.test";
    CHECK(rendered(signed_copy(m, options)).find("d=a.test; s=rsa;") != std::string::npos);
}

TEST_CASE("a key that cannot be used is an error when the signer is made") {
    const spool::rfc5322_renderer renderer;
    const auto refused = [&](spool::dkim_options o, const std::string& says) {
        CHECK_THROWS_WITH((spool::dkim_signer{std::move(o), renderer}), ContainsSubstring(says));
    };
    const auto& k = the_keys();
    refused({.keys = {{"a.test", "rsa", k.dir / "missing.pem"}}}, "cannot be opened");
    std::ofstream(k.dir / "garbage.pem") << "not a key";
    refused({.keys = {{"a.test", "rsa", k.dir / "garbage.pem"}}}, "is not a PEM private key");
    refused({.keys = {{"a.test", "ed", k.pem("ed")}}}, "has an Ed25519 key but no RSA key");
    REQUIRE(std::system(("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + (k.dir / "ec.pem").string() +
                         " 2>/dev/null").c_str()) == 0);
    refused({.keys = {{"a.test", "ec", k.dir / "ec.pem"}}}, "is neither an RSA nor an Ed25519 key");
    REQUIRE(std::system(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out " + (k.dir / "short.pem").string() +
                         " 2>/dev/null").c_str()) == 0);
    refused({.keys = {{"a.test", "short", k.dir / "short.pem"}}}, "has fewer than 1024 bits");
    refused({.keys = {{"", "rsa", k.pem("rsa")}}}, "needs a domain and a selector");
    refused({.keys = {{"a.test", "rsa", k.pem("rsa")}}, .domain = "b.test"}, "no key for the configured domain b.test");
    CHECK_THROWS_AS(spool::dkim_dns_record(k.dir / "missing.pem"), spool::dkim_key_error);
    CHECK(spool::dkim_dns_record(k.pem("ed")).rfind("v=DKIM1; k=ed25519; p=", 0) == 0);
}

TEST_CASE("keys made by make_dkim_key sign what both verifiers pass with the record it gives, and stay their owner's") {
    auto& k = the_keys();
    spool::dkim_options o;
    o.keys.push_back({"a.test", "made-rsa", k.pem("made-rsa")});
    o.keys.push_back({"a.test", "made-ed", k.pem("made-ed")});
    const std::string text = through_the_wire(rendered(signed_copy(from_a(), o)));
    CHECK(text.find("s=made-rsa") != std::string::npos);
    CHECK(text.find("s=made-ed") != std::string::npos);
    CHECK(dkimpy(text) == both_pass);
    CHECK(opendkim(text) == both_pass);
    CHECK(k.records.at("made-rsa._domainkey.a.test").rfind("v=DKIM1; k=rsa; p=", 0) == 0);
    CHECK(k.records.at("made-ed._domainkey.a.test").rfind("v=DKIM1; k=ed25519; p=", 0) == 0);
    const auto perms = fs::status(k.pem("made-rsa")).permissions();
    CHECK((perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
}

TEST_CASE("make_dkim_key never overwrites a file, and refuses RSA keys verifiers would refuse") {
    auto& k = the_keys();
    auto slurp = [](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string{std::istreambuf_iterator<char>(in), {}};
    };
    const std::string before = slurp(k.pem("made-rsa"));
    CHECK_THROWS_AS(spool::make_dkim_key(k.pem("made-rsa"), spool::dkim_key_type::rsa), spool::dkim_key_error);
    CHECK(slurp(k.pem("made-rsa")) == before);
    CHECK_THROWS_WITH(spool::make_dkim_key(k.dir / "small.pem", spool::dkim_key_type::rsa, 512), ContainsSubstring("1024"));
    CHECK_FALSE(fs::exists(k.dir / "small.pem"));
    CHECK_THROWS_AS(spool::make_dkim_key(k.dir / "no-such-dir" / "k.pem", spool::dkim_key_type::ed25519), spool::dkim_key_error);
}
