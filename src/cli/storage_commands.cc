#include "cli/storage_commands.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/engine_options.h"
#include "engine/engine.h"
#include "replica/replica.h"
#include "server/config.h"
#include "storage/data_dir.h"
#include "storage/journal.h"
#include "storage/manifest.h"
#include "storage/snapshot.h"
#include "wire/records.h"

namespace eleven::cli {

namespace {

int Fail(const Status& status) {
  std::fprintf(stderr, "eleven: %s\n", status.ToString().c_str());
  return 1;  // kVerifyUnrecoverable for verify
}

// The shape asked for on the command line: the defaults, then the TOML file, then the flags.
Status GivenShape(const std::string& config_path, const EngineOptions& options,
                  server::ServerConfig* config) {
  if (!config_path.empty()) ELEVEN_RETURN_IF_ERROR(server::LoadServerConfig(config_path, config));
  return ApplyEngineOptions(options, config);
}

void PrintShape(const replica::DataShape& shape) {
  for (const ManifestEntry& entry : replica::ShapeToManifest(shape)) {
    std::printf("  %s = %s\n", entry.key.c_str(), entry.value.c_str());
  }
}

int Format(const std::string& dir, const std::string& config_path, const EngineOptions& options,
           bool adopt) {
  server::ServerConfig config;
  Status s = GivenShape(config_path, options, &config);
  if (!s.ok()) return Fail(s);
  const replica::DataShape shape = server::ShapeOfConfig(config);
  if (adopt) {
    replica::ReplayReport replay;
    s = replica::AdoptDataDir(Env::Default(), dir, shape, &replay);
    if (!s.ok()) return Fail(s);
    std::printf(
        "adopted %s: its snapshot and %llu journal entries read with this shape, now recorded in "
        "%s:\n",
        dir.c_str(), (unsigned long long)replay.entries, kManifestName);
  } else {
    s = replica::FormatDataDir(Env::Default(), dir, shape);
    if (!s.ok()) return Fail(s);
    std::printf("formatted %s, shape recorded in %s:\n", dir.c_str(), kManifestName);
  }
  PrintShape(shape);
  return 0;
}

// Exit codes of `eleven verify` (docs/operations.md, "Recovery").
constexpr int kVerifyOk = 0;
constexpr int kVerifyUnrecoverable = 1;  // recovery would refuse to start (or verify could not run)
constexpr int kVerifyDamaged = 2;        // recovery works, but something kept is damaged

// The shape to verify with: the manifest's, checked against what was given; or, in a
// directory from before manifests, what was given (nothing given is refused).
Status VerifyShape(const std::string& path, const std::string& config_path,
                   const EngineOptions& options, replica::DataShape* shape) {
  server::ServerConfig config;
  ELEVEN_RETURN_IF_ERROR(GivenShape(config_path, options, &config));
  const Status read = replica::ReadDataShape(Env::Default(), path, shape);
  if (read.code() == StatusCode::kFailedPrecondition && !config.shape_given.empty()) {
    std::printf("no %s: verifying with the shape given (record it with `eleven format --adopt`)\n",
                kManifestName);
    *shape = server::ShapeOfConfig(config);
    return Status::Ok();
  }
  ELEVEN_RETURN_IF_ERROR(read);
  return replica::CheckShape(path, *shape, server::ShapeOfConfig(config), config.shape_given);
}

// Checks every snapshot and every kept journal segment (also those before the newest
// snapshot, which an older snapshot's fallback needs), then replays the journal onto the
// newest good snapshot, without changing anything (a torn tail is reported, not cut).
// Anything damaged makes the exit code non-zero: kVerifyDamaged while recovery still works.
int Verify(const std::string& path, const std::string& config_path, const EngineOptions& options) {
  Env* env = Env::Default();
  std::unique_ptr<DataDir> dir;
  Status s = DataDir::Open(env, path, &dir);
  if (!s.ok()) return Fail(s);
  replica::DataShape shape;
  s = VerifyShape(path, config_path, options, &shape);
  if (!s.ok()) return Fail(s);
  std::vector<SnapshotFile> snapshots;
  s = ListSnapshots(env, path, &snapshots);
  if (!s.ok()) return Fail(s);
  int bad = 0;
  uint64_t oldest_good_op = 0;  // 0: no good snapshot
  for (const SnapshotFile& file : snapshots) {
    SnapshotHeader header{};
    Status checked = ReadSnapshot(env, file.path, &header, nullptr);
    std::printf("snapshot %s: %s\n", file.path.c_str(), checked.ok() ? "ok" : checked.ToString().c_str());
    bad += !checked.ok();
    if (checked.ok()) oldest_good_op = file.op;  // listed newest first
  }
  replica::JournalCheck journal;
  const Status journal_checked =
      replica::CheckJournal(env, path, shape.engine.batch_command_count_max, &journal);
  if (journal_checked.ok()) {
    std::printf("journal: %llu segments, %llu entries, ops %llu..%llu: ok\n", (unsigned long long)journal.segment_count,
                (unsigned long long)journal.entries, (unsigned long long)journal.op_first,
                (unsigned long long)journal.op_last);
  } else {
    std::printf("journal: %s\n", journal_checked.ToString().c_str());
    bad++;
  }
  // The oldest good snapshot is a fallback only while the journal holds every entry after it.
  if (oldest_good_op > 0 && journal.segment_count > 0 && journal.op_first > oldest_good_op + 1) {
    std::printf("journal: starts at op %llu, after op %llu that the oldest good snapshot needs next\n",
                (unsigned long long)journal.op_first, (unsigned long long)oldest_good_op + 1);
    bad++;
  }
  engine::Engine engine(shape.engine);
  SnapshotLoad load;
  s = LoadNewestSnapshot(env, path, &load);
  if (!s.ok()) return Fail(s);
  if (load.found) {
    s = engine.Restore(load.snapshot.body);
    if (!s.ok()) return Fail(s);
  }
  replica::ReplayReport replay;
  s = replica::ReplayJournal(env, path, &engine, [](uint64_t entries) {
    std::fprintf(stderr, "verify: %llu entries replayed\n", (unsigned long long)entries);
  }, &replay);
  if (!s.ok()) return Fail(s);
  if (replay.torn_tail) std::printf("torn tail (cut on next start): %s\n", replay.torn_tail->ToString().c_str());
  engine.CheckInvariants();
  const Digest128 digest = engine.Digest();
  std::printf("replayed: %llu entries after the snapshot, state at op %llu, digest %016llx%016llx\n",
              (unsigned long long)replay.entries, (unsigned long long)engine.last_op(),
              (unsigned long long)digest.high, (unsigned long long)digest.low);
  std::printf("replay: %llu commands in %.3f s (%.2f M commands/s)\n", (unsigned long long)replay.commands,
              replay.seconds, replay.seconds > 0 ? double(replay.commands) / replay.seconds / 1e6 : 0.0);
  if (bad > 0) {
    std::printf("%s: DAMAGED: %d problem(s) above; recovery still starts, from what verifies\n", path.c_str(), bad);
    return kVerifyDamaged;
  }
  std::printf("%s: ok\n", path.c_str());
  return kVerifyOk;
}

void PrintCommand(const wire::Command& c) {
  switch (c.operation) {
    case wire::Operation::kPlaceOrder: {
      const auto& o = c.place_order;
      std::printf("    place_order key=%llu merchant=%llu buyer=%llu lines=%u", (unsigned long long)o.idempotency_key,
                  (unsigned long long)o.merchant_id, (unsigned long long)o.buyer_id, o.line_count);
      for (int l = 0; l < o.line_count && l < wire::kOrderLineCountMax; l++) {
        std::printf(" %llux%u", (unsigned long long)o.sku_id[l], o.quantity[l]);
      }
      std::printf("\n");
      return;
    }
    case wire::Operation::kPayOrder:
      std::printf("    pay_order order=%llu amount=%lld\n", (unsigned long long)c.pay_order.order_id,
                  (long long)c.pay_order.amount_fen);
      return;
    case wire::Operation::kCancelOrder:
      std::printf("    cancel_order order=%llu\n", (unsigned long long)c.cancel_order.order_id);
      return;
    case wire::Operation::kCreateSku:
      std::printf("    create_sku sku=%llu merchant=%llu price=%lld stock=%u\n", (unsigned long long)c.create_sku.sku_id,
                  (unsigned long long)c.create_sku.merchant_id, (long long)c.create_sku.price_fen, c.create_sku.stock);
      return;
    default:
      std::printf("    operation %u\n", unsigned(c.operation));
  }
}

int Inspect(const std::string& path, uint64_t from, uint64_t limit, bool commands) {
  Env* env = Env::Default();
  // The shape first; a damaged or missing manifest is reported, and the journal still shown.
  replica::DataShape shape;
  const Status shape_read = replica::ReadDataShape(env, path, &shape);
  if (shape_read.ok()) {
    std::printf("shape (%s):\n", JoinPath(path, kManifestName).c_str());
    PrintShape(shape);
  } else {
    std::printf("shape: %s\n", shape_read.ToString().c_str());
  }
  std::unique_ptr<JournalReader> reader;
  Status s = JournalReader::Open(env, path, from, &reader);
  if (!s.ok()) return Fail(s);
  std::vector<wire::Command> decoded;
  for (uint64_t printed = 0; printed < limit; printed++) {
    JournalEntry entry;
    bool done = false;
    s = reader->Next(&entry, &done);
    if (!s.ok()) return Fail(s);
    if (done) break;
    std::printf("op %llu  time %llu.%06llu s  commands %u  bytes %zu (%s)  checksum %016llx\n",
                (unsigned long long)entry.op, (unsigned long long)(entry.timestamp_us / 1000000),
                (unsigned long long)(entry.timestamp_us % 1000000), entry.command_count, entry.body.size(),
                entry.body_format == uint16_t(replica::BodyFormat::kPacked) ? "packed" : "raw",
                (unsigned long long)entry.header_checksum);
    if (!commands) continue;
    s = replica::EntryCommands(entry, kJournalEntryCommandCountMax, &decoded);
    if (!s.ok()) return Fail(s);
    for (const wire::Command& c : decoded) PrintCommand(c);
  }
  if (reader->torn_tail()) std::printf("torn tail: %s\n", reader->torn_tail()->ToString().c_str());
  return shape_read.ok() ? 0 : 1;
}

}  // namespace

void AddStorageCommands(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto config_path = std::make_shared<std::string>();
  auto format_options = std::make_shared<EngineOptions>();
  auto adopt = std::make_shared<bool>(false);
  CLI::App* format = app.add_subcommand(
      "format",
      "Create a new data directory, recording its shape (capacities, ledger, fulfilment, clock)");
  format->add_option("--data", *dir, "the directory to create (must not exist or be empty)")->required();
  format->add_option(
      "--config", *config_path,
      "take the shape from this `eleven serve` TOML file ([engine], [ledger], [fulfilment]); "
      "flags win over it");
  format->add_flag("--adopt", *adopt,
                   "record the shape of an existing data directory formatted by an older build (no "
                   "MANIFEST), after checking that it reads with it");
  AddClockOption(*format, format_options.get());
  AddEngineOptions(*format, format_options.get());
  format->callback([dir, config_path, format_options, adopt] {
    std::exit(Format(*dir, *config_path, *format_options, *adopt));
  });

  auto engine_options = std::make_shared<EngineOptions>();
  CLI::App* verify = app.add_subcommand("verify", "Check a data directory without starting");
  verify->add_option("--data", *dir, "the data directory")->required();
  verify->add_option(
      "--config", *config_path,
      "check this `eleven serve` TOML file's [engine], [ledger] and [fulfilment] against the "
      "data directory's shape");
  AddEngineOptions(*verify, engine_options.get());
  verify->callback([dir, engine_options, config_path] {
    std::exit(Verify(*dir, *config_path, *engine_options));
  });

  auto from = std::make_shared<uint64_t>(1);
  auto limit = std::make_shared<uint64_t>(1000);
  auto commands = std::make_shared<bool>(false);
  CLI::App* inspect = app.add_subcommand("inspect", "Print a data directory's journal entries");
  inspect->add_option("--data", *dir, "the data directory")->required();
  inspect->add_option("--from", *from, "first op to print");
  inspect->add_option("--limit", *limit, "how many entries to print");
  inspect->add_flag("--commands", *commands, "print every command of each entry");
  inspect->callback([dir, from, limit, commands] { std::exit(Inspect(*dir, *from, *limit, *commands)); });
}

}  // namespace eleven::cli
