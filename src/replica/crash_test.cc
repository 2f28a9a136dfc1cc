// Crash test: the engine runs in a child process under W1 load and is killed with SIGKILL
// at random moments; after each kill the data directory is recovered and checked:
//  - every order whose batch the child acknowledged is there, with the result it was
//    acknowledged with (order id, code, total);
//  - no SKU is oversold and every invariant holds;
//  - the recovered state (newest snapshot + journal after it) has the same digest as a
//    replay of the whole journal from scratch.
// The next child recovers the same directory and goes on, resending the orders after the
// last acknowledged one (idempotency keys make that safe). 30 cycles by default (8 under
// the sanitizers);
// ELEVEN_CRASH_CYCLES=<n> (or ELEVEN_LONG=1: 1000) runs more. Prints its seed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "replica/replica.h"
#include "sim/w1.h"
#include "sim/w1_engine.h"

namespace eleven::replica {
namespace {

constexpr uint64_t kOrdersMax = 1'500'000;
constexpr uint32_t kBatchSize = 2000;

ReplicaOptions CrashOptions() {
  ReplicaOptions o;
  o.engine = sim::W1EngineConfig(kOrdersMax);
  o.staging_size_bytes = 8 << 20;
  o.remove_old_journal_segments = false;  // the test replays the whole journal from op 1
  // Prepared segments, small enough that kills land in every phase: writing over a zero
  // fill, rolling onto a prepared file, and preparing the next in the background.
  o.journal.segment_size_bytes_max = 4 << 20;
  o.journal.prepare_segments = true;
  return o;
}

// What the child tells the parent after each acknowledged (durable) batch.
struct Ack {
  uint64_t first_index;
  uint32_t count;
  uint32_t reserved;
  uint64_t results_digest;  // of (code, id, amount) of every order in the batch, in order
};

uint64_t ResultsDigest(uint64_t digest, wire::Code code, uint64_t id, int64_t amount) {
  return Fmix64(digest ^ Fmix64(uint64_t(code) * 0x9E3779B97F4A7C15ull ^ id ^ (uint64_t(amount) << 1)));
}

// snapshot: 0 none, 1 forked, 2 by the follower (which also follows the journal all along).
[[noreturn]] void ChildMain(const std::string& dir, uint64_t start_index, uint64_t seed, int fd, int snapshot) {
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ReplicaOptions options = CrashOptions();
  if (snapshot == 2) {
    options.snapshot_mode = ReplicaOptions::SnapshotMode::kFollower;
    options.follower_interval_ms = 1;
  }
  if (!Replica::Open(Env::Default(), dir, options, &r, &report).ok()) _exit(3);
  std::vector<wire::Result> results(kBatchSize);
  if (r->engine().sku_count() == 0) {  // the first child loads the catalog, through the log
    const std::vector<wire::Command> catalog = sim::W1CatalogCommands();
    std::vector<wire::Result> catalog_results(8190);
    for (size_t at = 0; at < catalog.size(); at += 8190) {
      uint64_t op = 0;
      const size_t count = std::min<size_t>(8190, catalog.size() - at);
      if (!r->Submit(std::span(catalog.data() + at, count), 1'000'000, catalog_results, &op).ok()) _exit(4);
    }
  }
  w1::Generator generator(seed);
  for (uint64_t i = 0; i < start_index; i++) generator.Next();
  std::vector<wire::Command> batch(kBatchSize);
  std::vector<std::pair<uint64_t, uint64_t>> waiting;  // (op, first index)
  uint64_t index = start_index;
  for (int b = 0; index + kBatchSize <= kOrdersMax; b++, index += kBatchSize) {
    for (auto& c : batch) c = sim::W1OrderCommand(generator.Next());
    uint64_t op = 0;
    if (!r->Submit(batch, r->engine().last_timestamp_us() + 1000, results, &op).ok()) _exit(5);
    Ack ack{index, kBatchSize, 0, 0};
    for (const auto& res : results) ack.results_digest = ResultsDigest(ack.results_digest, res.code, res.id, res.amount_fen);
    if (!r->WaitDurable(op).ok()) _exit(6);
    if (write(fd, &ack, sizeof(ack)) != sizeof(ack)) _exit(7);
    if (snapshot != 0 && b == 3 && !r->StartSnapshot().ok()) _exit(8);
  }
  _exit(0);
}

TEST(Crash, KilledAtRandomMomentsRecoversEveryAcknowledgedOrder) {
  const uint64_t seed = std::getenv("ELEVEN_SEED") ? std::strtoull(std::getenv("ELEVEN_SEED"), nullptr, 10)
                                                   : std::random_device{}();
#ifdef ELEVEN_SANITIZE
  constexpr int kDefaultCycles = 8;  // the sanitizer build runs each cycle ~5x slower
#else
  constexpr int kDefaultCycles = 30;
#endif
  const char* long_run = std::getenv("ELEVEN_LONG");
  const int cycles = std::getenv("ELEVEN_CRASH_CYCLES") ? std::atoi(std::getenv("ELEVEN_CRASH_CYCLES"))
                     : (long_run != nullptr && long_run[0] == '1') ? 1000
                                                                   : kDefaultCycles;
  std::printf("crash test: seed=%llu cycles=%d (replay: ELEVEN_SEED=%llu)\n", (unsigned long long)seed, cycles,
              (unsigned long long)seed);
  std::mt19937_64 rng(seed);
  std::string dir = std::filesystem::temp_directory_path() / "eleven-crash-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::filesystem::remove(dir);
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(CrashOptions())).ok());

  std::vector<Ack> acked;  // every acknowledged batch, over all cycles
  uint64_t next_index = 0;
  for (int cycle = 0; cycle < cycles && next_index + kBatchSize <= kOrdersMax; cycle++) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildMain(dir, next_index, seed, fds[1], rng() % 3 == 0 ? 1 + int(rng() % 2) : 0);
    }
    close(fds[1]);
    // Kill it after a random number of acknowledgements (the child keeps working meanwhile,
    // so the kill lands anywhere: mid-apply, mid-write, mid-sync, mid-snapshot).
    const uint64_t kill_after = 1 + rng() % 12;
    Ack ack;
    for (uint64_t n = 0; n < kill_after && read(fds[0], &ack, sizeof(ack)) == sizeof(ack); n++) acked.push_back(ack);
    kill(pid, SIGKILL);
    while (read(fds[0], &ack, sizeof(ack)) == sizeof(ack)) acked.push_back(ack);  // sent before the kill
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "child failed with exit " << WEXITSTATUS(status) << ", seed " << seed;
    if (!acked.empty()) next_index = acked.back().first_index + acked.back().count;

    // Recover, and check every acknowledged batch against its acknowledged results.
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    // A snapshot writer the child forked dies with it (PR_SET_PDEATHSIG), but the kernel
    // delivers that asynchronously: until it is gone it still holds the directory's lock.
    Status opened = Replica::Open(Env::Default(), dir, CrashOptions(), &r, &report);
    for (int attempt = 0; attempt < 500 && opened.code() == StatusCode::kBusy; attempt++) {
      usleep(10'000);
      opened = Replica::Open(Env::Default(), dir, CrashOptions(), &r, &report);
    }
    ASSERT_TRUE(opened.ok()) << opened.ToString() << ", seed " << seed;
    w1::Generator generator(seed);
    uint64_t at = 0;
    for (const Ack& a : acked) {
      for (; at < a.first_index; at++) generator.Next();
      uint64_t digest = 0;
      for (uint32_t i = 0; i < a.count; i++, at++) {
        const w1::Order order = generator.Next();
        wire::OrderRecord rec{};
        ASSERT_EQ(r->engine().GetOrderByKey(order.key, &rec), wire::Code::ok)
            << "acknowledged order " << at << " lost after cycle " << cycle << ", seed " << seed;
        digest = ResultsDigest(digest, rec.code, rec.order_id, rec.total_fen);
      }
      ASSERT_EQ(digest, a.results_digest) << "acknowledged batch at " << a.first_index << " changed, seed " << seed;
    }
    r->engine().CheckInvariants();  // includes: no SKU below zero, limits held
    const Digest128 recovered = r->engine().Digest();
    const bool used_snapshot = report.snapshot_found;
    r.reset();

    // Replay the whole journal from op 1, without the snapshot, in a fresh engine.
    engine::Engine fresh(CrashOptions().engine);
    std::unique_ptr<JournalReader> reader;
    Status read = JournalReader::Open(Env::Default(), dir, 1, &reader);
    ASSERT_TRUE(read.ok()) << read.ToString();
    const uint32_t batch_max = CrashOptions().engine.batch_command_count_max;
    std::vector<wire::Result> results(batch_max);
    std::vector<wire::Command> commands;
    for (;;) {
      JournalEntry entry;
      bool done = false;
      read = reader->Next(&entry, &done);
      ASSERT_TRUE(read.ok()) << read.ToString();
      if (done) break;
      read = EntryCommands(entry, batch_max, &commands);
      ASSERT_TRUE(read.ok()) << read.ToString();
      ASSERT_EQ(fresh.Apply(entry.op, entry.timestamp_us, commands, results), engine::BatchError::kNone);
    }
    ASSERT_EQ(fresh.Digest(), recovered) << "recovery" << (used_snapshot ? " from a snapshot" : "")
                                         << " differs from a full replay, seed " << seed;
  }
  std::printf("crash test: %zu acknowledged batches checked over %d cycles\n", acked.size(), cycles);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eleven::replica
