#include "cli/bench_command.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "client/client.h"
#include "sim/w1.h"
#include "sim/w1_engine.h"

namespace eleven::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kCatalogBatch = 8190;
constexpr int kCatalogInFlight = 8;
constexpr auto kPacerTick = std::chrono::microseconds(500);

// Latency in µs, log-linear: 64 sub-buckets per power of two (<= 1.6% error).
class Histogram {
 public:
  void Record(uint64_t us, uint64_t weight) {
    counts_[Index(us)] += weight;
    total_ += weight;
  }
  void Merge(const Histogram& other) {
    for (size_t i = 0; i < counts_.size(); i++) counts_[i] += other.counts_[i];
    total_ += other.total_;
  }
  uint64_t Percentile(double p) const {
    const uint64_t rank = static_cast<uint64_t>(p * static_cast<double>(total_));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); i++) {
      seen += counts_[i];
      if (seen > rank) return Value(i);
    }
    return 0;
  }
  uint64_t total() const { return total_; }

 private:
  static constexpr int kSub = 64;
  static size_t Index(uint64_t v) {
    if (v < kSub) return v;
    const int exponent = 63 - __builtin_clzll(v) - 5;  // v >> exponent is in 32..63
    return static_cast<size_t>(std::min(exponent, 40)) * 32 + (v >> exponent);
  }
  static uint64_t Value(size_t index) {
    if (index < kSub) return index;
    const uint64_t exponent = index / 32 - 1;
    return (index - exponent * 32) << exponent;
  }
  std::array<uint64_t, 41 * 32 + kSub> counts_{};
  uint64_t total_ = 0;
};

// The W1 stream, shared by all connections (one key sequence, so no key repeats).
class OrderSource {
 public:
  explicit OrderSource(uint64_t seed) : generator_(seed) {}
  void Next(uint32_t count, std::vector<wire::Command>* out) {
    out->resize(count);
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint32_t i = 0; i < count; i++) (*out)[i] = sim::W1OrderCommand(generator_.Next());
  }

 private:
  std::mutex mutex_;
  w1::Generator generator_;
};

struct Connection {
  std::unique_ptr<client::Client> client;
  Histogram histogram;  // written on the connection's I/O thread only
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
  std::atomic<uint64_t> completed{0};
  std::atomic<int> in_flight{0};
};

uint64_t Micros(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

void Count(Connection* c, const Status& status, std::span<const wire::Result> results,
           Clock::time_point due, uint32_t count) {
  if (!status.ok()) {
    c->failed += count;
  } else {
    for (const auto& r : results) (r.code == wire::Code::ok ? c->accepted : c->rejected)++;
  }
  c->histogram.Record(Micros(Clock::now() - due), count);
  c->completed.fetch_add(count, std::memory_order_relaxed);
}

Status LoadCatalogIfEmpty(client::Client* c, bool force) {
  wire::Code code;
  wire::SkuRecord sku;
  ELEVEN_RETURN_IF_ERROR(c->GetSku(sim::kW1IdOffset, &code, &sku));
  if (code == wire::Code::ok && !force) {
    std::printf("catalog: present (SKU 1 found), not loaded\n");
    return Status::Ok();
  }
  const auto start = Clock::now();
  const std::vector<wire::Command> commands = sim::W1CatalogCommands();
  std::vector<std::future<client::SubmitOutcome>> futures;
  uint64_t refused = 0;
  for (size_t at = 0; at < commands.size(); at += kCatalogBatch) {
    const size_t count = std::min<size_t>(kCatalogBatch, commands.size() - at);
    futures.push_back(c->Submit(std::span(commands.data() + at, count)));
    if (futures.size() >= kCatalogInFlight || at + count == commands.size()) {
      for (auto& f : futures) {
        auto outcome = f.get();
        ELEVEN_RETURN_IF_ERROR(outcome.status);
        for (const auto& r : outcome.results) refused += r.code != wire::Code::ok;
      }
      futures.clear();
    }
  }
  std::printf("catalog: %zu commands in %.1f s (%llu refused, e.g. already there)\n", commands.size(),
              std::chrono::duration<double>(Clock::now() - start).count(),
              static_cast<unsigned long long>(refused));
  return Status::Ok();
}

// Closed loop: each connection keeps `depth` batches in flight until the deadline.
void RunClosed(const BenchArgs& args, OrderSource* source, std::vector<std::unique_ptr<Connection>>& conns,
               Clock::time_point deadline) {
  std::function<void(Connection*)> send_one = [&](Connection* c) {
    auto commands = std::make_shared<std::vector<wire::Command>>();
    source->Next(args.batch, commands.get());
    const auto sent = Clock::now();
    c->in_flight.fetch_add(1);
    c->client->Submit(*commands, [&, c, sent, commands](const Status& s, std::span<const wire::Result> r) {
      Count(c, s, r, sent, args.batch);
      if (Clock::now() < deadline) send_one(c);
      c->in_flight.fetch_sub(1);
    });
  };
  for (auto& c : conns) {
    for (uint32_t d = 0; d < args.depth; d++) send_one(c.get());
  }
  for (auto& c : conns) {
    while (c->in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Open loop: a pacer makes orders due at `rate`, cuts them into batches of at most `batch`
// and hands them round-robin to the connections, whatever is still in flight.
void RunOpen(const BenchArgs& args, OrderSource* source, std::vector<std::unique_ptr<Connection>>& conns,
             Clock::time_point start, Clock::time_point deadline) {
  uint64_t offered = 0;
  size_t next = 0;
  std::vector<wire::Command> commands;
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const uint64_t due = static_cast<uint64_t>(elapsed * static_cast<double>(args.rate));
    while (offered < due) {
      const uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(args.batch, due - offered));
      // The batch was due when its first order was: latency counts from then.
      const auto due_at = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(static_cast<double>(offered) / static_cast<double>(args.rate)));
      source->Next(count, &commands);
      Connection* c = conns[next++ % conns.size()].get();
      c->in_flight.fetch_add(1);
      c->client->Submit(commands, [c, due_at, count](const Status& s, std::span<const wire::Result> r) {
        Count(c, s, r, due_at, count);
        c->in_flight.fetch_sub(1);
      });
      offered += count;
    }
    std::this_thread::sleep_for(kPacerTick);
  }
  for (auto& c : conns) {
    while (c->in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

int RunBench(const BenchArgs& args) {
  if (args.batch == 0 || args.batch > kCatalogBatch || args.connections == 0) {
    std::fprintf(stderr, "eleven bench: --batch must be 1..%u and --connections >= 1\n", kCatalogBatch);
    return 2;
  }
  std::string key;
  if (Status s = ResolveKey(args.key, &key); !s.ok()) {
    std::fprintf(stderr, "eleven bench: %s\n", s.message().c_str());
    return 2;
  }
  std::vector<std::string> addresses;  // one server, or a replica set's nodes
  if (Status s = client::ParseAddresses(args.connect, &addresses); !s.ok()) {
    std::fprintf(stderr, "eleven bench: --connect: %s\n", s.message().c_str());
    return 2;
  }
  std::vector<std::shared_ptr<client::EventLoop>> loops;  // outlive the connections
  for (uint32_t i = 0; i < args.io_threads; i++) {
    loops.push_back(std::make_shared<client::EventLoop>());
  }
  std::vector<std::unique_ptr<Connection>> conns;
  for (uint32_t i = 0; i < args.connections; i++) {
    auto c = std::make_unique<Connection>();
    client::ClientOptions options;
    options.addresses = addresses;
    options.key = key;
    options.requests_in_flight_max = 1024;
    options.tls_ca_file = args.tls_ca;
    if (!loops.empty()) options.loop = loops[i % loops.size()];
    const Status status = client::Client::Connect(options, &c->client);
    if (!status.ok()) {
      std::fprintf(stderr, "eleven bench: %s\n", status.ToString().c_str());
      return 1;
    }
    conns.push_back(std::move(c));
  }
  if (Status s = LoadCatalogIfEmpty(conns[0]->client.get(), args.load_catalog); !s.ok()) {
    std::fprintf(stderr, "eleven bench: catalog: %s\n", s.ToString().c_str());
    return 1;
  }
  OrderSource source(args.seed);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.seconds));
  if (args.rate == 0) {
    RunClosed(args, &source, conns, deadline);
  } else {
    RunOpen(args, &source, conns, start, deadline);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  Histogram all;
  uint64_t accepted = 0, rejected = 0, failed = 0;
  client::ClientStats moves;  // how the connections rode out breaks and failovers
  for (auto& c : conns) {
    all.Merge(c->histogram);
    accepted += c->accepted;
    rejected += c->rejected;
    failed += c->failed;
    const client::ClientStats stats = c->client->stats();
    moves.reconnects += stats.reconnects;
    moves.redirects += stats.redirects;
    moves.resends += stats.resends;
  }
  conns.clear();
  const uint64_t orders = accepted + rejected;
  const double per_second = static_cast<double>(orders) / seconds;
  std::printf("%llu orders in %.2f s: %.0f orders/s durable (%llu accepted, %llu rejected, %llu failed)\n",
              static_cast<unsigned long long>(orders), seconds, per_second,
              static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(rejected),
              static_cast<unsigned long long>(failed));
  if (moves.reconnects != 0 || moves.redirects != 0) {
    std::printf(
        "client: %llu reconnects, %llu not_leader redirects followed, %llu requests re-sent\n",
        static_cast<unsigned long long>(moves.reconnects),
        static_cast<unsigned long long>(moves.redirects),
        static_cast<unsigned long long>(moves.resends));
  }
  std::printf("latency p50 %llu us, p99 %llu us, p999 %llu us\n",
              static_cast<unsigned long long>(all.Percentile(0.5)), static_cast<unsigned long long>(all.Percentile(0.99)),
              static_cast<unsigned long long>(all.Percentile(0.999)));
  std::printf("{\"system\":\"eleven\",\"mode\":\"network\",\"loop\":\"%s\",\"connections\":%u,"
              "\"io_threads\":%u,\"batch\":%u,"
              "\"rate\":%llu,\"seconds\":%.2f,\"orders\":%llu,\"orders_per_s\":%.0f,\"accepted\":%llu,"
              "\"rejected\":%llu,\"failed\":%llu,\"p50_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu}\n",
              args.rate == 0 ? "closed" : "open", args.connections, args.io_threads, args.batch,
              static_cast<unsigned long long>(args.rate), seconds, static_cast<unsigned long long>(orders),
              per_second, static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(rejected),
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(all.Percentile(0.5)),
              static_cast<unsigned long long>(all.Percentile(0.99)), static_cast<unsigned long long>(all.Percentile(0.999)));
  return failed == 0 ? 0 : 1;
}

void AddBenchCommand(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* command = app.add_subcommand("bench", "run W1 against a server over the network");
  command
      ->add_option("--connect", args->connect,
                   "server binary-protocol address host:port, or a replica set's nodes "
                   "host:port,host:port,... (the client finds the leader and follows failovers)")
      ->capture_default_str();
  command->add_option("--connections", args->connections, "client connections")->capture_default_str();
  command->add_option("--batch", args->batch, "orders per request")->capture_default_str();
  command->add_option("--depth", args->depth, "closed loop: requests in flight per connection")->capture_default_str();
  command->add_option("--io-threads", args->io_threads,
                      "client I/O threads the connections share (0 = one per connection)")
      ->capture_default_str();
  command->add_option("--rate", args->rate, "open loop at this many orders/s (0 = closed loop)")->capture_default_str();
  command->add_option("--seconds", args->seconds, "how long to run")->capture_default_str();
  command->add_option("--seed", args->seed, "W1 seed")->capture_default_str();
  command->add_option("--tls-ca", args->tls_ca,
                      "connect over TLS (a server with [tls]), trusting the CA certificates in this PEM file");
  command->add_flag("--load-catalog", args->load_catalog, "load the W1 catalog even if SKU 1 exists");
  AddKeyOptions(*command, &args->key, "an operator key (it loads the catalog and places the orders)");
  command->callback([args] { std::exit(RunBench(*args)); });
}

}  // namespace eleven::cli
