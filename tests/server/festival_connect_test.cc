// `eleven festival --connect` end to end over loopback: a server started from the TOML that
// --print-serve-config writes runs a tiny day to the same state digest, totals and drops as
// the embedded engine; a server with a wall clock, too small a table or state already in
// it is refused before anything is sent, with a message that says what to change. The server
// takes no anonymous request: its data directory is formatted with an operator key, as
// `eleven format` does, and the festival authenticates with it (the embedded run records
// the same key first, so both end in the same state).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "client/client.h"
#include "client/keys.h"
#include "replica/first_key.h"
#include "server/config.h"
#include "sim/festival.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

sim::Scenario Tiny(uint64_t seed) {
  sim::Scenario s;
  const Status loaded = sim::LoadScenario(std::string(ELEVEN_SOURCE_DIR) + "/scenarios/default.toml", &s);
  EXPECT_TRUE(loaded.ok()) << loaded.ToString();
  s.seed = seed;
  s.scale = 0.00002;
  s.simulated_seconds = 1200;  // the surge, the first drops, expiries and deliveries
  s.tick_ms = 200;
  s.merchants = 100;
  s.buyers = 3000;
  s.warehouses = 4;
  s.bonded_warehouses = 1;
  s.snapshot_at_s = 600;  // embedded takes it; connect skips it (and says so)
  for (sim::DropSpec& d : s.drops) {
    d.quota = std::min<uint32_t>(d.quota, 200);
    d.demand_per_s = std::min(d.demand_per_s, 30.0);
    d.demand_seconds = std::min(d.demand_seconds, 40.0);
  }
  return s;
}

// The server config as an operator gets it: --print-serve-config's TOML, read back.
ServerConfig ServeConfigFor(const sim::Scenario& scenario, const std::string& data_dir) {
  const std::string path = data_dir + ".toml";
  {
    std::ofstream(path) << EngineConfigToml(sim::FestivalEngineConfig(scenario), protocol::ClockMode::kClient);
  }
  ServerConfig config;
  const Status loaded = LoadServerConfig(path, &config);
  EXPECT_TRUE(loaded.ok()) << loaded.ToString();
  std::filesystem::remove(path);
  config.data_dir = data_dir;
  config.listen = "127.0.0.1:0";
  config.http = "";
  config.staging_size_bytes = 8 << 20;
  config.anonymous_operator = false;
  return config;
}

// Formats the config's data directory with its shape and an operator key, as `eleven format`
// does; returns the key's secret.
std::string FormatWithKey(const ServerConfig& config) {
  const Status formatted = FormatForConfig(config);
  EXPECT_TRUE(formatted.ok()) << formatted.ToString();
  const std::string key = client::NewKeySecret();
  replica::ReplicaOptions options;
  options.engine = config.engine;
  options.clock = ShapeOfConfig(config).clock;
  uint64_t key_id = 0;
  const Status added =
      replica::AddOperatorKey(Env::Default(), config.data_dir, options, client::HashKeySecret(key), 0, &key_id);
  EXPECT_TRUE(added.ok()) << added.ToString();
  EXPECT_EQ(key_id, 1u);
  return key;
}

// Runs the festival with operator key `key` against `server` (or embedded when null);
// returns the status and fills *summary.
Status RunFestival(const sim::Scenario& scenario, const Server* server, const std::string& key,
                   std::string* summary) {
  sim::FestivalOptions options;
  options.key = key;
  std::string dir;
  if (server != nullptr) {
    options.connect = "127.0.0.1:" + std::to_string(server->binary_port());
  } else {
    dir = "/tmp/eleven-festival-connect-test-" + std::to_string(getpid());
    std::filesystem::remove_all(dir);
    options.data_dir = dir;
  }
  const Status status = sim::RunFestival(scenario, options, summary);
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return status;
}

int64_t Int(simdjson::dom::element doc, std::string_view a, std::string_view b) {
  return doc[a][b].get_int64().value();
}

TEST(FestivalConnect, SameDayAsEmbeddedToTheDigest) {
  const uint64_t seed = std::getenv("ELEVEN_SEED") ? std::strtoull(std::getenv("ELEVEN_SEED"), nullptr, 10) : 11;
  std::printf("festival connect test: seed=%llu\n", (unsigned long long)seed);
  const sim::Scenario scenario = Tiny(seed);
  std::string embedded_json, connect_json;
  TempDataDir dir;
  const ServerConfig config = ServeConfigFor(scenario, dir.path());
  const std::string key = FormatWithKey(config);
  std::unique_ptr<Server> server = StartServer(config);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(RunFestival(scenario, nullptr, key, &embedded_json).ok());
  const Status run = RunFestival(scenario, server.get(), key, &connect_json);
  ASSERT_TRUE(run.ok()) << run.ToString();

  simdjson::dom::parser p1, p2;
  simdjson::dom::element embedded, connect;
  ASSERT_EQ(p1.parse(embedded_json).get(embedded), simdjson::SUCCESS);
  ASSERT_EQ(p2.parse(connect_json).get(connect), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(connect["scenario"]["mode"].get_string().value()), "connect");
  EXPECT_EQ(std::string_view(embedded["scenario"]["mode"].get_string().value()), "embedded");
  EXPECT_GT(Int(embedded, "totals", "orders_placed"), 1000);
  EXPECT_GT(Int(embedded, "totals", "orders_expired"), 0);
  for (std::string_view key : {"orders_placed", "orders_accepted", "orders_rejected", "orders_paid", "orders_expired",
                               "orders_cancelled", "orders_delivered", "retries", "payments_refused", "gmv_gross_fen",
                               "gmv_net_fen", "log_entries", "commands_applied"}) {
    EXPECT_EQ(Int(connect, "totals", key), Int(embedded, "totals", key)) << key;
  }
  EXPECT_EQ(Int(connect, "fulfilment", "parcels"), Int(embedded, "fulfilment", "parcels"));
  EXPECT_EQ(Int(connect, "fulfilment", "delivered"), Int(embedded, "fulfilment", "delivered"));
  EXPECT_EQ(simdjson::to_string(connect["drops"]), simdjson::to_string(embedded["drops"]));
  EXPECT_EQ(simdjson::to_string(connect["timeline"]), simdjson::to_string(embedded["timeline"]));
  // Coupons and pre-sale went through the same command stream: the same claims, redemptions,
  // deposits and balances, and the engine's sales figures, to the fen.
  EXPECT_GT(embedded["promotions"]["coupons"]["redeemed"].get_int64().value(), 0);
  EXPECT_GT(embedded["promotions"]["presale"]["deposits"].get_int64().value(), 0);
  EXPECT_EQ(simdjson::to_string(connect["promotions"]),
            simdjson::to_string(embedded["promotions"]));
  EXPECT_EQ(simdjson::to_string(connect["sales"]), simdjson::to_string(embedded["sales"]));
  // The whole state, byte for byte: same commands, same log times, same entries.
  EXPECT_EQ(std::string_view(connect["totals"]["state_digest"].get_string().value()),
            std::string_view(embedded["totals"]["state_digest"].get_string().value()));
  // What differs is said: no snapshot, no journal figures of the festival's own.
  EXPECT_TRUE(connect["totals"]["snapshot_bytes"].is_null());
  EXPECT_TRUE(connect["totals"]["journal_bytes"].is_null());
  EXPECT_NE(simdjson::to_string(connect["notes"]).find("snapshot_at_s skipped"), std::string::npos);
}

// Starts a server with `config`, runs the festival with `key` against it and expects a
// refusal that contains `want`.
void ExpectRefused(const sim::Scenario& scenario, const ServerConfig& config, const std::string& key,
                   const std::string& want, bool fill_first = false) {
  std::unique_ptr<Server> server = StartServer(config);
  ASSERT_NE(server, nullptr);
  if (fill_first) {
    client::ClientOptions options;
    options.address = "127.0.0.1:" + std::to_string(server->binary_port());
    options.key = key;
    std::unique_ptr<client::Client> client;
    ASSERT_TRUE(client::Client::Connect(options, &client).ok());
    const wire::Command c = wire::MakeCreateMerchant(1, "CN", 0);
    std::vector<wire::Result> results;
    ASSERT_TRUE(client->SubmitSync(std::span(&c, 1), &results).ok());
  }
  std::string summary;
  const Status run = RunFestival(scenario, server.get(), key, &summary);
  EXPECT_FALSE(run.ok());
  EXPECT_NE(run.ToString().find(want), std::string::npos) << run.ToString();
  EXPECT_TRUE(summary.empty());
}

TEST(FestivalConnect, WallClockServerIsRefused) {
  const sim::Scenario scenario = Tiny(1);
  TempDataDir dir;
  ServerConfig config = ServeConfigFor(scenario, dir.path());
  config.clock = protocol::ClockMode::kWall;
  ExpectRefused(scenario, config, FormatWithKey(config), "--clock client");
}

TEST(FestivalConnect, TooSmallServerIsRefusedByKey) {
  const sim::Scenario scenario = Tiny(1);
  TempDataDir dir;
  ServerConfig config = ServeConfigFor(scenario, dir.path());
  config.engine.order_slot_count /= 2;
  ExpectRefused(scenario, config, FormatWithKey(config), "engine.order_slots (server ");
  TempDataDir dir2;
  config = ServeConfigFor(scenario, dir2.path());
  config.engine.fulfilment_enabled = false;
  ExpectRefused(scenario, config, FormatWithKey(config), "fulfilment.enabled");
}

TEST(FestivalConnect, NonEmptyServerIsRefused) {
  const sim::Scenario scenario = Tiny(1);
  TempDataDir dir;
  const ServerConfig config = ServeConfigFor(scenario, dir.path());
  ExpectRefused(scenario, config, FormatWithKey(config), "is not empty", /*fill_first=*/true);
}

// Without the key, or with another, the festival is refused before it sends anything.
TEST(FestivalConnect, KeylessOrUnknownKeyIsRefused) {
  const sim::Scenario scenario = Tiny(1);
  TempDataDir dir;
  const ServerConfig config = ServeConfigFor(scenario, dir.path());
  FormatWithKey(config);
  ExpectRefused(scenario, config, "", "unauthenticated");
  ExpectRefused(scenario, config, client::NewKeySecret(), "unauthenticated");
}

}  // namespace
}  // namespace eleven::server::testing
