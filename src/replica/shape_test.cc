// A data directory's shape: recorded at format, read back exactly, and every key that
// differs at open is refused with its name and both values, before anything is written.
#include "replica/shape.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "replica/replica.h"
#include "storage/data_dir.h"
#include "storage/test_util.h"
#include "wire/make.h"

namespace eleven::replica {
namespace {

constexpr uint64_t kSecond = 1'000'000;

std::string NewDirPath() {
  std::string dir = std::filesystem::temp_directory_path() / "eleven-shape-test-XXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  std::filesystem::remove(dir);  // Format wants to create it
  return dir;
}

ReplicaOptions Options() {
  ReplicaOptions o;
  o.engine.merchant_count_max = 8;
  o.engine.sku_count_max = 64;
  o.engine.drop_count_max = 4;
  o.engine.order_slot_count = 1 << 12;
  o.engine.holding_count_max = 64;
  o.engine.batch_command_count_max = 64;
  o.staging_size_bytes = 1 << 20;
  return o;
}

// Another valid value of the same type, as the manifest writes it.
std::string Changed(const std::string& value) {
  if (value == "true") return "false";
  if (value == "false") return "true";
  if (value == "\"wall\"") return "\"client\"";
  if (value == "\"client\"") return "\"wall\"";
  if (value == "[]") return "[7]";
  if (value.front() == '[') {  // [a, ...] -> [a + 1, ...]
    const size_t end = value.find_first_of(",]");
    return "[" + std::to_string(std::stoull(value.substr(1, end - 1)) + 1) + value.substr(end);
  }
  return std::to_string(std::stoll(value) + 1);
}

// Names and sizes of a directory's files: what "nothing was written" compares.
std::map<std::string, uint64_t> Files(const std::string& dir) {
  std::map<std::string, uint64_t> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files[entry.path().filename()] = entry.is_regular_file() ? entry.file_size() : 0;
  }
  return files;
}

TEST(Shape, RoundTripsThroughTheManifestExactly) {
  DataShape shape;
  shape.clock = LogClock::kClient;
  shape.engine.sku_count_max = 12345;
  shape.engine.ledger_enabled = true;
  shape.engine.ledger.merchant_fee_bp[2] = 777;
  shape.engine.ledger.buyer_credit_limit_default_fen = -5;
  shape.engine.fulfilment_enabled = true;
  shape.engine.fulfilment.milestone_count = 2;
  shape.engine.fulfilment.milestone_parcels[0] = 100;
  shape.engine.fulfilment.milestone_parcels[1] = 1000;
  const std::vector<ManifestEntry> entries = ShapeToManifest(shape);
  EXPECT_EQ(entries.size(), ShapeKeys().size());
  DataShape read;
  ASSERT_TRUE(ShapeFromManifest("m", entries, &read).ok());
  EXPECT_EQ(ShapeToManifest(read), entries);
  EXPECT_EQ(read.clock, LogClock::kClient);
  EXPECT_EQ(read.engine.sku_count_max, 12345u);
  EXPECT_EQ(read.engine.fulfilment.milestone_parcels[1], 1000u);
  // The values read as a TOML file writes them.
  std::map<std::string, std::string> values;
  for (const ManifestEntry& e : entries) values[e.key] = e.value;
  EXPECT_EQ(values["engine.clock"], "\"client\"");
  EXPECT_EQ(values["engine.skus_max"], "12345");
  EXPECT_EQ(values["ledger.enabled"], "true");
  EXPECT_EQ(values["ledger.merchant_fee_bp"], "[230, 450, 777, 1500]");
  EXPECT_EQ(values["ledger.buyer_credit_limit_default_fen"], "-5");
  EXPECT_EQ(values["fulfilment.milestones"], "[100, 1000]");
}

// A manifest whose checksum holds but whose keys or values are not this build's: Corruption
// naming the key.
TEST(Shape, AManifestWithAMissingUnknownOrBadKeyIsCorruption) {
  const std::vector<ManifestEntry> good = ShapeToManifest(DataShape{});
  DataShape read;
  for (size_t i = 0; i < good.size(); i++) {
    std::vector<ManifestEntry> missing = good;
    missing.erase(missing.begin() + long(i));
    Status status = ShapeFromManifest("m", missing, &read);
    EXPECT_EQ(status.code(), StatusCode::kCorruption);
    EXPECT_NE(status.message().find("no " + good[i].key), std::string::npos) << status.ToString();
    for (const char* bad : {"x", "", "-1", "007", "1.5", "[1,2]", "99999999999999999999999"}) {
      std::vector<ManifestEntry> wrong = good;
      wrong[i].value = bad;
      status = ShapeFromManifest("m", wrong, &read);
      const bool is_signed = good[i].key.ends_with("_fen");  // money: int64
      if (good[i].value == bad || (is_signed && std::string(bad) == "-1")) continue;
      EXPECT_EQ(status.code(), StatusCode::kCorruption) << good[i].key << " = " << bad;
      EXPECT_NE(status.message().find(good[i].key), std::string::npos) << status.ToString();
    }
  }
  std::vector<ManifestEntry> extra = good;
  extra.push_back({"engine.shiny_new_thing", "1"});
  const Status status = ShapeFromManifest("m", extra, &read);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("engine.shiny_new_thing"), std::string::npos)
      << status.ToString();
  std::vector<ManifestEntry> unsorted = good;  // milestones must ascend
  for (ManifestEntry& e : unsorted) {
    if (e.key == "fulfilment.milestones") e.value = "[5, 5]";
  }
  EXPECT_EQ(ShapeFromManifest("m", unsorted, &read).code(), StatusCode::kCorruption);
}

// Every key of the manifest, changed on reopening, is refused with its name and both values;
// nothing is written; reopened with the recorded shape, the state is what it was.
TEST(Shape, EveryKeyChangedAtOpenIsRefusedAndTheStateIsIntact) {
  const std::string dir = NewDirPath();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(Options())).ok());
  Digest128 digest;
  uint64_t op_last = 0;
  {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(Env::Default(), dir, Options(), &r, &report).ok());
    std::vector<wire::Command> batch{wire::MakeCreateMerchant(1, "CN", 0),
                                     wire::MakeCreateSku(5, 1, 100, 10, 0),
                                     wire::MakePlaceOrder(1, 1, 2, 11, 3, {{5, 2}})};
    std::vector<wire::Result> results(batch.size());
    uint64_t op = 0;
    ASSERT_TRUE(r->Submit(batch, kSecond, results, &op).ok());
    ASSERT_TRUE(r->WaitDurable(op).ok());
    digest = r->engine().Digest();
    op_last = op;
  }
  const std::map<std::string, uint64_t> files = Files(dir);
  const std::vector<ManifestEntry> recorded = ShapeToManifest(ShapeOf(Options()));
  for (size_t i = 0; i < recorded.size(); i++) {
    std::vector<ManifestEntry> changed = recorded;
    changed[i].value = Changed(recorded[i].value);
    DataShape wanted;
    ASSERT_TRUE(ShapeFromManifest("test", changed, &wanted).ok())
        << changed[i].key << " = " << changed[i].value;
    ReplicaOptions options = Options();
    options.engine = wanted.engine;
    options.clock = wanted.clock;
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    const Status status = Replica::Open(Env::Default(), dir, options, &r, &report);
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << recorded[i].key;
    const std::string expected = recorded[i].key + " = " + changed[i].value +
                                 " in the replica's options, but the data directory " + dir +
                                 " was formatted with " + recorded[i].value;
    EXPECT_NE(status.message().find(expected), std::string::npos) << status.ToString();
    EXPECT_EQ(Files(dir), files) << "something was written after refusing " << recorded[i].key;
  }
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, Options(), &r, &report).ok());
  EXPECT_EQ(r->engine().last_op(), op_last);
  EXPECT_EQ(r->engine().Digest(), digest);
  r.reset();
  std::filesystem::remove_all(dir);
}

TEST(Shape, CheckShapeNamesOnlyTheGivenKeysThatDiffer) {
  DataShape recorded;
  DataShape wanted;
  wanted.engine.sku_count_max = recorded.engine.sku_count_max / 2;
  wanted.engine.drop_count_max = recorded.engine.drop_count_max + 1;  // not given: not checked
  const Status status =
      CheckShape("/d", recorded, wanted,
                 {{"engine.skus_max", "in config.toml"}, {"engine.merchants_max", "by --x"}});
  ASSERT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      status.message().find("engine.skus_max = " + std::to_string(wanted.engine.sku_count_max) +
                            " in config.toml, but the data directory /d was formatted with " +
                            std::to_string(recorded.engine.sku_count_max)),
      0u)
      << status.ToString();
  EXPECT_EQ(status.message().find("drops_max"), std::string::npos);
  EXPECT_EQ(status.message().find("merchants_max"), std::string::npos);
  EXPECT_TRUE(CheckShape("/d", recorded, wanted, {{"engine.merchants_max", "by --x"}}).ok());
}

// A damaged manifest stops the open with Corruption naming the file; so does a missing one
// in a current directory, while one from before manifests is told how to adopt.
TEST(Shape, ADamagedOrMissingManifestIsRefused) {
  const std::string dir = NewDirPath();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(Options())).ok());
  const std::string path = JoinPath(dir, kManifestName);
  std::vector<std::byte> bytes;
  ASSERT_TRUE(ReadWholeFile(Env::Default(), path, kManifestSizeBytesMax, &bytes).ok());
  std::vector<std::byte> flipped = bytes;
  flipped[bytes.size() / 2] ^= std::byte{0x04};
  ASSERT_TRUE(WriteFileDurably(Env::Default(), dir, kManifestName, flipped).ok());
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  Status status = Replica::Open(Env::Default(), dir, Options(), &r, &report);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find(path), std::string::npos) << status.ToString();

  ASSERT_TRUE(Env::Default()->RemoveFile(path).ok());
  testing::RewriteIdentityVersion(dir, 2);
  status = Replica::Open(Env::Default(), dir, Options(), &r, &report);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("eleven format --adopt --data " + dir), std::string::npos)
      << status.ToString();
  std::filesystem::remove_all(dir);
}

// Adopting: a directory from before manifests gets one only for a shape its snapshot
// restores into; then it opens as any other.
TEST(Shape, AdoptRecordsAShapeTheDirectoryReadsWith) {
  const std::string dir = NewDirPath();
  ASSERT_TRUE(FormatDataDir(Env::Default(), dir, ShapeOf(Options())).ok());
  Digest128 digest;
  {
    std::unique_ptr<Replica> r;
    RecoveryReport report;
    ASSERT_TRUE(Replica::Open(Env::Default(), dir, Options(), &r, &report).ok());
    std::vector<wire::Command> batch{wire::MakeCreateMerchant(1, "CN", 0),
                                     wire::MakeCreateSku(5, 1, 100, 10, 0)};
    std::vector<wire::Result> results(batch.size());
    uint64_t op = 0;
    ASSERT_TRUE(r->Submit(batch, kSecond, results, &op).ok());
    ASSERT_TRUE(r->StartSnapshot().ok());
    bool done = false;
    SnapshotReport snap;
    ASSERT_TRUE(r->PollSnapshot(/*wait=*/true, &done, &snap).ok());
    const std::vector<wire::Command> after{wire::MakeCreateSku(6, 1, 100, 10, 0)};
    ASSERT_TRUE(r->Submit(after, 2 * kSecond, results, &op).ok());
    ASSERT_TRUE(r->WaitDurable(op).ok());
    digest = r->engine().Digest();
  }
  ASSERT_TRUE(Env::Default()->RemoveFile(JoinPath(dir, kManifestName)).ok());
  testing::RewriteIdentityVersion(dir, 2);

  DataShape wrong = ShapeOf(Options());
  wrong.engine.sku_count_max *= 2;
  ReplayReport replay;
  Status status = AdoptDataDir(Env::Default(), dir, wrong, &replay);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("nothing was recorded"), std::string::npos) << status.ToString();
  std::vector<ManifestEntry> entries;
  EXPECT_EQ(ReadManifest(Env::Default(), dir, &entries).code(), StatusCode::kNotFound);

  status = AdoptDataDir(Env::Default(), dir, ShapeOf(Options()), &replay);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(replay.entries, 1u);
  EXPECT_EQ(AdoptDataDir(Env::Default(), dir, ShapeOf(Options()), &replay).code(),
            StatusCode::kFailedPrecondition);
  std::unique_ptr<Replica> r;
  RecoveryReport report;
  ASSERT_TRUE(Replica::Open(Env::Default(), dir, Options(), &r, &report).ok());
  EXPECT_EQ(r->engine().Digest(), digest);
  r.reset();
  std::unique_ptr<DataDir> opened;
  ASSERT_TRUE(DataDir::Open(Env::Default(), dir, &opened).ok());
  EXPECT_EQ(opened->format_version(), kDataDirFormatVersion);
  opened.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eleven::replica
