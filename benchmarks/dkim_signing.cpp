// DKIM signing through the preprocessor alone (no store, no spooler): messages
// signed per second on one thread, with 1 KiB and 100 KiB bodies and 10,000
// signing domains loaded, against two baselines in the same run:
//   unsigned  the same messages copied and rendered, as the signer does before it signs;
//   raw       signatures per second of the same key through OpenSSL's API
//             (SHA-256 of 32 octets then RSA PKCS#1 v1.5, as `openssl speed rsa2048`
//             signs; Ed25519 over 32 octets), the limit a signer can reach.
// After the run it prints the ratios and the load average.
//
//   build/bench/benchmarks/spool_dkim_signing --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <spool/dkim.hpp>
#include <spool/smtp/message.hpp>
#include <spool/testing/transport_kit.hpp>

#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace {

namespace fs = std::filesystem;

struct key_files {
    fs::path dir = fs::temp_directory_path() / ("spool-dkim-bench-" + std::to_string(::getpid()));
    key_files() {
        fs::create_directories(dir);
        for (const auto& [name, how] : {std::pair{"rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"}, std::pair{"ed", "-algorithm ed25519"}}) {
            const std::string command = std::string("openssl genpkey ") + how + " -out " + (dir / name).string() + ".pem 2>/dev/null";
            if (std::system(command.c_str()) != 0) {
                std::fprintf(stderr, "openssl genpkey failed\n");
                std::exit(1);
            }
        }
    }
    ~key_files() { fs::remove_all(dir); }
    fs::path pem(const char* name) const { return dir / (std::string(name) + ".pem"); }
};

const key_files& keys() {
    static key_files k;
    return k;
}

// 10,000 signing domains: d0.test ... d9999.test, each with the RSA key (and
// the Ed25519 key when `ed25519`). One PEM file serves them all: libopendkim
// takes the key as text at every signature, so how many distinct keys there
// are changes the lookup and the memory, not the signing.
// SPOOL_DKIM_BENCH_DOMAINS sets another count (the CTest entry that keeps this
// building uses a few: loading 10,000 keys takes seconds).
spool::dkim_options options(bool ed25519) {
    spool::dkim_options o;
    const char* wanted = std::getenv("SPOOL_DKIM_BENCH_DOMAINS");
    const int domains = wanted ? std::max(std::atoi(wanted), 1) : 10'000;
    for (int i = 0; i < domains; ++i) {
        const std::string domain = "d" + std::to_string(i) + ".test";
        o.keys.push_back({domain, "rsa", keys().pem("rsa")});
        if (ed25519) o.keys.push_back({domain, "ed", keys().pem("ed")});
    }
    return o;
}

spool::message message_of(std::size_t body_bytes) {
    spool::message m;
    m.id = spool::message_id{1};
    m.sender = {"Ann", "ann@d0.test", "SMTP"};
    m.recipients.push_back({"Bob", "bob@example.net", "SMTP"});
    m.client_submit_time = spool::time_point{std::chrono::seconds{1'700'000'000}};
    m.payload.subject = "quarterly figures";
    m.payload.headers = {{"Message-ID", "<1.2@mx.d0.test>"}};
    std::string line = "The quick brown fox jumps over the lazy dog, and then some more words.\n"; // 72 octets
    while (m.payload.body.size() < body_bytes) m.payload.body += line;
    m.payload.body.resize(body_bytes);
    return m;
}

const spool::time_point now{std::chrono::seconds{1'700'000'000}};

void unsigned_messages(benchmark::State& state) {
    const spool::message m = message_of(static_cast<std::size_t>(state.range(0)));
    const spool::rfc5322_renderer renderer{{"mx.d0.test"}};
    for (auto _ : state) {
        spool::message copy = m;
        benchmark::DoNotOptimize(renderer(copy));
    }
    state.SetItemsProcessed(state.iterations());
}

template <bool Ed25519>
void signed_messages(benchmark::State& state) {
    const spool::message m = message_of(static_cast<std::size_t>(state.range(0)));
    // Made once per variant: Google Benchmark calls this several times, and
    // loading 10,000 keys takes seconds.
    static spool::dkim_signer signer{options(Ed25519), spool::rfc5322_renderer{{"mx.d0.test"}}};
    for (auto _ : state) {
        spool::message copy = m;
        spool::preprocessing<spool::message> run(copy, now);
        const auto result = signer.preprocess(run);
        if (!result.succeeded() || copy.payload.headers.size() != (Ed25519 ? 3u : 2u)) {
            state.SkipWithError(("not signed: " + result.reason()).c_str());
            break;
        }
        benchmark::DoNotOptimize(copy);
    }
    state.SetItemsProcessed(state.iterations());
}

void raw_signatures(benchmark::State& state, const char* name, bool rsa) {
    std::ifstream in(keys().pem(name));
    const std::string pem{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const auto key = spool::detail::dkim::parse_private_key(pem);
    const unsigned char data[32] = {1, 2, 3};
    unsigned char signature[512];
    for (auto _ : state) {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        std::size_t size = sizeof signature;
        if (EVP_DigestSignInit(ctx, nullptr, rsa ? EVP_sha256() : nullptr, nullptr, key.get()) != 1 ||
            EVP_DigestSign(ctx, signature, &size, data, sizeof data) != 1)
            state.SkipWithError("OpenSSL could not sign");
        EVP_MD_CTX_free(ctx);
        benchmark::DoNotOptimize(signature);
    }
    state.SetItemsProcessed(state.iterations());
}

// What libopendkim does before each signature: parse the PEM key.
void key_parses(benchmark::State& state, const char* name) {
    std::ifstream in(keys().pem(name));
    const std::string pem{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    for (auto _ : state) benchmark::DoNotOptimize(spool::detail::dkim::parse_private_key(pem));
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(unsigned_messages)->Arg(1024)->Arg(100 * 1024)->UseRealTime();
BENCHMARK(signed_messages<false>)->Name("signed_rsa")->Arg(1024)->Arg(100 * 1024)->UseRealTime();
BENCHMARK(signed_messages<true>)->Name("signed_rsa_and_ed25519")->Arg(1024)->Arg(100 * 1024)->UseRealTime();
BENCHMARK_CAPTURE(raw_signatures, rsa2048, "rsa", true)->UseRealTime();
BENCHMARK_CAPTURE(raw_signatures, ed25519, "ed", false)->UseRealTime();
BENCHMARK_CAPTURE(key_parses, rsa2048, "rsa")->UseRealTime();
BENCHMARK_CAPTURE(key_parses, ed25519, "ed")->UseRealTime();

// Keeps each benchmark's rate (the median when repeated) for the ratios.
class rates : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> per_second;
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
            const auto found = r.counters.find("items_per_second");
            if (found != r.counters.end()) per_second[r.run_name.str()] = found->second;
        }
    }
};

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    std::ifstream load("/proc/loadavg");
    std::string before;
    std::getline(load, before);
    rates r;
    benchmark::RunSpecifiedBenchmarks(&r);
    const auto rate = [&](const std::string& name) { return r.per_second.contains(name) ? r.per_second[name] : 0.0; };
    std::printf("\nload average before the run: %s\n", before.c_str());
    for (const char* size : {"1024", "102400"}) {
        const double rsa = rate(std::string("signed_rsa/") + size + "/real_time");
        const double both = rate(std::string("signed_rsa_and_ed25519/") + size + "/real_time");
        const double plain = rate(std::string("unsigned_messages/") + size + "/real_time");
        const double limit = rate("raw_signatures/rsa2048/real_time");
        const double ed_limit = rate("raw_signatures/ed25519/real_time");
        std::printf("body %6s octets: rsa %.0f/s = %.2f of raw rsa2048 (%.0f/s), %.4f of unsigned (%.0f/s); "
                    "rsa+ed25519 %.0f/s = %.2f of the raw pair (%.0f/s)\n",
                    size, rsa, limit ? rsa / limit : 0, limit, plain ? rsa / plain : 0, plain, both,
                    limit && ed_limit ? both * (1 / limit + 1 / ed_limit) : 0, limit && ed_limit ? 1 / (1 / limit + 1 / ed_limit) : 0);
    }
    benchmark::Shutdown();
    return 0;
}
