#include "cli/storage_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/engine_options.h"
#include "cli/key_options.h"
#include "client/keys.h"
#include "engine/engine.h"
#include "replica/first_key.h"
#include "replica/replica.h"
#include "server/json_encode.h"
#include "server/config.h"
#include "storage/data_dir.h"
#include "storage/journal.h"
#include "storage/manifest.h"
#include "storage/snapshot.h"
#include "wire/access.h"
#include "wire/fulfilment.h"
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

// The directory's first operator key (replica/first_key.h), opened as `eleven serve` would
// open it with this config (its journal settings: a prepared first segment stays prepared).
Status AddFirstKey(const std::string& dir, const server::ServerConfig& config, const replica::DataShape& shape,
                   const std::string& secret, uint64_t* key_id) {
  replica::ReplicaOptions options;
  options.engine = shape.engine;
  options.clock = shape.clock;
  options.staging_size_bytes = config.staging_size_bytes;
  options.journal.segment_size_bytes_max = config.journal_segment_bytes;
  options.journal.prepare_segments = config.journal_prepare_segments;
  // The log time of the entry: the wall clock's, or 0 with a client clock (whose users set
  // their own times afterwards, and the log time never goes back).
  const uint64_t now_us =
      shape.clock == replica::LogClock::kClient
          ? 0
          : uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
  const client::KeySecretHash hash = client::HashKeySecret(secret);
  return replica::AddOperatorKey(Env::Default(), dir, options, hash, now_us, key_id);
}

int Format(const std::string& dir, const std::string& config_path, const EngineOptions& options,
           bool adopt, const std::string& key_file) {
  server::ServerConfig config;
  Status s = GivenShape(config_path, options, &config);
  if (!s.ok()) return Fail(s);
  const replica::DataShape shape = server::ShapeOfConfig(config);
  // The key file first: one that exists (or cannot be made) refuses before anything changes.
  int key_fd = -1;
  if (!key_file.empty()) {
    s = CreateKeyFile(key_file, &key_fd);
    if (!s.ok()) return Fail(s);
  }
  auto fail_keyless = [&](const Status& status) {
    if (key_fd >= 0) {
      close(key_fd);
      unlink(key_file.c_str());
    }
    return Fail(status);
  };
  if (adopt) {
    replica::ReplayReport replay;
    s = replica::AdoptDataDir(Env::Default(), dir, shape, &replay);
    if (!s.ok()) return fail_keyless(s);
    std::printf(
        "adopted %s: its snapshot and %llu journal entries read with this shape, now recorded in "
        "%s:\n",
        dir.c_str(), (unsigned long long)replay.entries, kManifestName);
  } else {
    s = replica::FormatDataDir(Env::Default(), dir, shape);
    if (!s.ok()) return fail_keyless(s);
    std::printf("formatted %s, shape recorded in %s:\n", dir.c_str(), kManifestName);
  }
  PrintShape(shape);
  std::fflush(stdout);
  const std::string secret = client::NewKeySecret();
  uint64_t key_id = 0;
  s = AddFirstKey(dir, config, shape, secret, &key_id);
  if (!s.ok()) return fail_keyless(s);
  if (key_fd >= 0) {
    s = WriteKeyFile(key_file, key_fd, secret);
    if (!s.ok()) {
      unlink(key_file.c_str());
      return Fail(Status::IOError(s.message() + "; operator key " + std::to_string(key_id) +
                                  " exists but its secret is lost: revoke it once another operator key exists"));
    }
    std::printf("operator key %llu: its secret is in %s (mode 0600); only its SHA-256 is kept here\n",
                (unsigned long long)key_id, key_file.c_str());
  } else {
    std::printf("operator key %llu (shown once; only its SHA-256 is kept here):\n%s\n",
                (unsigned long long)key_id, secret.c_str());
  }
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

// One command of an entry: who issued it (the key id the server stamped, 0 for the local
// operator: docs/access.md), its operation's name, and its main fields.
void PrintCommand(const wire::Command& c) {
  const std::string name(server::OperationName(c.operation));
  std::printf("    issuer %-5u %s", wire::IssuerOf(c), name.c_str());
  switch (c.operation) {
    case wire::Operation::kPlaceOrder: {
      const auto& o = c.place_order;
      std::printf(" key=%llu merchant=%llu buyer=%llu lines=%u", (unsigned long long)o.idempotency_key,
                  (unsigned long long)o.merchant_id, (unsigned long long)o.buyer_id, o.line_count);
      for (int l = 0; l < o.line_count && l < wire::kOrderLineCountMax; l++) {
        std::printf(" %llux%u", (unsigned long long)o.sku_id[l], o.quantity[l]);
      }
      break;
    }
    case wire::Operation::kPayOrder:
      std::printf(" order=%llu amount=%lld", (unsigned long long)c.pay_order.order_id,
                  (long long)c.pay_order.amount_fen);
      break;
    case wire::Operation::kCancelOrder:
      std::printf(" order=%llu", (unsigned long long)c.cancel_order.order_id);
      break;
    case wire::Operation::kCreateSku:
      std::printf(" sku=%llu merchant=%llu price=%lld stock=%u", (unsigned long long)c.create_sku.sku_id,
                  (unsigned long long)c.create_sku.merchant_id, (long long)c.create_sku.price_fen, c.create_sku.stock);
      break;
    default:
      if (c.operation == wire::kCreateKey) {
        const auto k = wire::AsRecord<wire::CreateKey>(c);
        const char* role = wire::RoleName(k.role);
        std::printf(" role=%s scope=%llu", role[0] != '\0' ? role : "invalid", (unsigned long long)k.scope_id);
      } else if (c.operation == wire::kRevokeKey) {
        std::printf(" key=%llu", (unsigned long long)wire::AsRecord<wire::RevokeKey>(c).key_id);
      } else if (name == "unknown") {
        std::printf(" (operation %u)", unsigned(c.operation));
      }
  }
  std::printf("\n");
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
  auto key_file = std::make_shared<std::string>();
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
  format->add_option("--key-file", *key_file,
                     "write the first operator key's secret to this new file (mode 0600) instead of "
                     "printing it");
  AddClockOption(*format, format_options.get());
  AddEngineOptions(*format, format_options.get());
  format->callback([dir, config_path, format_options, adopt, key_file] {
    std::exit(Format(*dir, *config_path, *format_options, *adopt, *key_file));
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
  inspect->add_flag("--commands", *commands,
                    "print every command of each entry: its issuer (key id; 0 = the local operator), "
                    "operation and main fields: the audit trail");
  inspect->callback([dir, from, limit, commands] { std::exit(Inspect(*dir, *from, *limit, *commands)); });
}

}  // namespace eleven::cli
