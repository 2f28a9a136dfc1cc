// The server's clock modes over loopback: in wall-clock mode set_clock is refused
// (clock_is_wall) and the connection stays usable; in client-clock mode every batch sent
// after a set_clock is stamped with its time, a time going back is refused
// (clock_backwards) and changes nothing, and a set_clock cuts the server's batching so
// pipelined set_clock/submit pairs become one log entry each at their own time. The TOML key
// is read and a wrong value refused by name.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>

#include "client/client.h"
#include "server/config.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

using protocol::ClockMode;
using wire::Code;

constexpr uint64_t kDayUs = 1'573'401'600ull * 1'000'000;  // 2019-11-11 00:00 +08:00

class ClockTest : public ::testing::Test {
 protected:
  void Start(ClockMode mode) {
    ServerConfig config = TestConfig(dir_.path());
    config.clock = mode;
    server_ = StartServer(config);
    ASSERT_NE(server_, nullptr);
    client_ = ConnectClient(server_->binary_port());
    ASSERT_NE(client_, nullptr);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }
  // Sets the clock; returns the entry's code and fills *record.
  Code SetClock(uint64_t at_us, protocol::ClockRecord* record) {
    Code code = Code::invalid_operation;
    EXPECT_TRUE(client_->SetClock(at_us, &code, record).ok());
    return code;
  }
  Code CreateMerchant(uint64_t id) {
    std::vector<wire::Result> results;
    const wire::Command c = wire::MakeCreateMerchant(id, "CN", 0);
    EXPECT_TRUE(client_->SubmitSync(std::span(&c, 1), &results).ok());
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? Code::invalid_operation : results[0].code;
  }
  protocol::DigestRecord Digest() {
    protocol::DigestRecord digest{};
    EXPECT_TRUE(client_->GetDigest(&digest).ok());
    return digest;
  }

  TempDataDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(ClockTest, WallModeRefusesSetClockAndStaysUsable) {
  Start(ClockMode::kWall);
  protocol::ClockRecord record{};
  EXPECT_EQ(SetClock(kDayUs, &record), Code::clock_is_wall);
  EXPECT_EQ(record.mode, ClockMode::kWall);
  EXPECT_GT(record.log_time_us, kDayUs);  // the wall clock, years after 2019
  ASSERT_EQ(CreateMerchant(1), Code::ok);
  const protocol::DigestRecord digest = Digest();
  EXPECT_EQ(digest.op, 1u);
  EXPECT_NE(digest.timestamp_us, kDayUs);
}

TEST_F(ClockTest, ClientModeStampsBatchesAndNeverGoesBack) {
  Start(ClockMode::kClient);
  protocol::ClockRecord record{};
  ASSERT_EQ(SetClock(kDayUs, &record), Code::ok);
  EXPECT_EQ(record.mode, ClockMode::kClient);
  EXPECT_EQ(record.log_time_us, kDayUs);
  ASSERT_EQ(CreateMerchant(1), Code::ok);
  EXPECT_EQ(Digest().timestamp_us, kDayUs);

  ASSERT_EQ(SetClock(kDayUs + 5'000'000, &record), Code::ok);
  ASSERT_EQ(SetClock(kDayUs + 5'000'000, &record), Code::ok);  // the same time again is fine
  ASSERT_EQ(CreateMerchant(2), Code::ok);
  EXPECT_EQ(Digest().timestamp_us, kDayUs + 5'000'000);

  // Backwards: refused, the clock stays, and the next batch is stamped with the later time.
  EXPECT_EQ(SetClock(kDayUs + 1, &record), Code::clock_backwards);
  EXPECT_EQ(record.log_time_us, kDayUs + 5'000'000);
  ASSERT_EQ(CreateMerchant(3), Code::ok);
  const protocol::DigestRecord digest = Digest();
  EXPECT_EQ(digest.op, 3u);
  EXPECT_EQ(digest.timestamp_us, kDayUs + 5'000'000);
}

TEST_F(ClockTest, PipelinedSetClockCutsTheBatch) {
  Start(ClockMode::kClient);
  // Four pairs sent without waiting: the server must not merge the submits into one entry,
  // or they would share one timestamp.
  std::vector<std::future<client::SubmitOutcome>> outcomes;
  std::vector<std::promise<Code>> clock_codes(4);
  for (uint64_t i = 0; i < 4; i++) {
    const uint64_t at_us = kDayUs + i * 1'000'000;
    client_->Query(protocol::Operation::kSetClock, std::span(&at_us, 1),
                   [&promise = clock_codes[i]](const Status& status, std::span<const std::byte> entry) {
                     Code code = Code::invalid_operation;
                     if (status.ok() && entry.size() >= sizeof(code)) std::memcpy(&code, entry.data(), sizeof(code));
                     promise.set_value(code);
                   });
    const wire::Command c = wire::MakeCreateMerchant(10 + i, "CN", 0);
    outcomes.push_back(client_->Submit(std::span(&c, 1)));
  }
  for (auto& promise : clock_codes) EXPECT_EQ(promise.get_future().get(), Code::ok);
  for (auto& outcome : outcomes) {
    client::SubmitOutcome o = outcome.get();
    ASSERT_TRUE(o.status.ok());
    ASSERT_EQ(o.results.size(), 1u);
    EXPECT_EQ(o.results[0].code, Code::ok);
  }
  const protocol::DigestRecord digest = Digest();
  EXPECT_EQ(digest.op, 4u);  // one log entry per set_clock
  EXPECT_EQ(digest.timestamp_us, kDayUs + 3'000'000);
}

// Merchant 1 (CN) and its SKU 10, 100 units at 500 fen, over HTTP.
void PostCatalog(uint16_t port) {
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status,
            200);
  ASSERT_EQ(HttpCall(port, "POST", "/skus",
                     R"({"sku_id":10,"merchant_id":1,"price_fen":500,"stock":100})")
                .status,
            200);
}

// Time moves without writes (wall-clock mode): an unpaid order on an idle server expires by
// a tick the server writes itself, its stock comes back, and reads show it; a server with
// nothing due writes nothing.
TEST(TickTest, AnIdleServerExpiresAnUnpaidOrderByItself) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.engine.pay_window_us = 300'000;
  config.tick_ms = 50;
  auto server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->http_port();
  ASSERT_NO_FATAL_FAILURE(PostCatalog(port));
  const HttpReply placed =
      HttpCall(port, "POST", "/orders",
               R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,)"
               R"("city_tier":1,"lines":[{"sku_id":10,"quantity":4}]})");
  ASSERT_EQ(placed.status, 200) << placed.body;
  ASSERT_NE(placed.body.find("\"state\":\"pending\""), std::string::npos) << placed.body;
  ASSERT_NE(HttpCall(port, "GET", "/skus/10").body.find("\"available\":96"), std::string::npos);
  // No write follows: only the server's own tick can expire it.
  const double ticks = WaitForMetric(port, "eleven_ticks_total", 1);
  EXPECT_GE(ticks, 1);
  const HttpReply order = HttpCall(port, "GET", "/orders/1");
  EXPECT_NE(order.body.find("\"state\":\"expired\""), std::string::npos) << order.body;
  const HttpReply sku = HttpCall(port, "GET", "/skus/10");
  EXPECT_NE(sku.body.find("\"available\":100"), std::string::npos) << sku.body;
  // Nothing more is due: no more ticks, however long the server idles.
  const double op = MetricValue(port, "eleven_op_submitted");
  std::this_thread::sleep_for(std::chrono::milliseconds(6 * config.tick_ms));
  EXPECT_EQ(MetricValue(port, "eleven_op_submitted"), op);
  EXPECT_EQ(MetricValue(port, "eleven_ticks_total"), ticks);
}

TEST(TickTest, AServerWithNothingDueWritesNothing) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.tick_ms = 20;
  auto server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->http_port();
  ASSERT_NO_FATAL_FAILURE(PostCatalog(port));
  // A paid order has no deadline left: nothing is due.
  ASSERT_EQ(HttpCall(port, "POST", "/orders",
                     R"({"idempotency_key":1,"merchant_id":1,"buyer_id":2,"region":3,)"
                     R"("city_tier":1,"lines":[{"sku_id":10,"quantity":1}]})")
                .status,
            200);
  ASSERT_EQ(HttpCall(port, "POST", "/orders/1/pay", R"({"amount_fen":500})").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(10 * config.tick_ms));
  EXPECT_EQ(MetricValue(port, "eleven_op_submitted"), 4);
  EXPECT_EQ(MetricValue(port, "eleven_ticks_total"), 0);
}

// set_clock over HTTP: POST /clock {"at_us": N}; the reply carries the mode and the log time.
TEST(ClockHttpTest, ClientModeSetsTheClockAndRefusesGoingBack) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  config.clock = ClockMode::kClient;
  auto server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->http_port();
  const std::string at = std::to_string(kDayUs);
  HttpReply reply = HttpCall(port, "POST", "/clock", "{\"at_us\":" + at + "}");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body, "{\"mode\":\"client\",\"log_time_us\":" + at + "}");
  ASSERT_EQ(HttpCall(port, "POST", "/merchants", R"({"merchant_id":1,"country":"CN"})").status,
            200);
  EXPECT_NE(HttpCall(port, "GET", "/engine/digest").body.find("\"timestamp_us\":" + at),
            std::string::npos);
  reply = HttpCall(port, "POST", "/clock", "{\"at_us\":" + std::to_string(kDayUs - 1) + "}");
  EXPECT_EQ(reply.status, 409);
  EXPECT_NE(reply.body.find("\"error\":\"clock_backwards\""), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find(at), std::string::npos) << "names where the clock is: " << reply.body;
  for (const char* bad : {"", "{}", "[1]", "{\"at_us\":-1}", "{\"at_us\":\"1\"}", "{\"at\":1}",
                          "{\"at_us\":1,\"at_us\":2}", "{\"at_us\":1}x"}) {
    reply = HttpCall(port, "POST", "/clock", bad);
    EXPECT_EQ(reply.status, 400) << bad << " -> " << reply.body;
    EXPECT_NE(reply.body.find("\"error\":\"invalid_"), std::string::npos)
        << bad << " -> " << reply.body;
  }
  EXPECT_EQ(HttpCall(port, "GET", "/clock").status, 405);
  EXPECT_NE(HttpCall(port, "GET", "/engine/digest").body.find("\"op\":1,"), std::string::npos)
      << "refused set_clocks wrote nothing";
}

TEST(ClockHttpTest, WallModeRefusesSetClock) {
  TempDataDir dir;
  auto server = StartServer(TestConfig(dir.path()));
  ASSERT_NE(server, nullptr);
  const HttpReply reply =
      HttpCall(server->http_port(), "POST", "/clock", "{\"at_us\":" + std::to_string(kDayUs) + "}");
  EXPECT_EQ(reply.status, 409);
  EXPECT_NE(reply.body.find("\"error\":\"clock_is_wall\""), std::string::npos) << reply.body;
}

TEST(ClockConfigTest, TomlKeyIsReadAndCheckedByName) {
  const std::string path = "/tmp/eleven-clock-test-" + std::to_string(getpid()) + ".toml";
  {
    std::ofstream(path) << "[engine]\nclock = \"client\"\n";
  }
  ServerConfig config;
  ASSERT_TRUE(LoadServerConfig(path, &config).ok());
  EXPECT_EQ(config.clock, ClockMode::kClient);
  {
    std::ofstream(path) << "[engine]\nclock = \"sundial\"\n";
  }
  const Status bad = LoadServerConfig(path, &config);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.ToString().find("engine.clock"), std::string::npos) << bad.ToString();
  std::remove(path.c_str());
}

TEST(SnapshotConfigTest, ModeAndPacingKeysAreReadAndChecked) {
  const std::string path = "/tmp/eleven-snapshot-test-" + std::to_string(getpid()) + ".toml";
  ServerConfig config;
  EXPECT_TRUE(config.snapshot_follower);  // the default
  {
    std::ofstream(path) << "[snapshot]\nmode = \"fork\"\nfollower_nice = 3\nslice_bytes = 1048576\n"
                           "write_bytes_per_second = 0\n";
  }
  ASSERT_TRUE(LoadServerConfig(path, &config).ok());
  EXPECT_FALSE(config.snapshot_follower);
  EXPECT_EQ(config.snapshot_follower_nice, 3);
  EXPECT_EQ(config.snapshot_slice_bytes, 1u << 20);
  EXPECT_EQ(config.snapshot_write_bytes_per_second, 0u);
  for (const char* bad : {"mode = \"thread\"", "follower_nice = 20", "follower_nice = -1", "slice_bytes = -4"}) {
    std::ofstream(path) << "[snapshot]\n" << bad << "\n";
    const Status status = LoadServerConfig(path, &config);
    EXPECT_FALSE(status.ok()) << bad;
    EXPECT_NE(status.ToString().find("snapshot."), std::string::npos) << status.ToString();
  }
  std::remove(path.c_str());
}

// get_limits answers the capacities the server was started with; the TOML that
// EngineConfigToml writes reads back to the same limits (what `eleven festival
// --print-serve-config` relies on); get_stats counts what was applied.
TEST(EngineQueriesTest, LimitsRoundTripThroughTomlAndStatsCount) {
  TempDataDir dir;
  ServerConfig config = ModulesConfig(dir.path());
  config.engine.fulfilment.milestone_count = 2;
  config.engine.fulfilment.milestone_parcels[0] = 10;
  config.engine.fulfilment.milestone_parcels[1] = 1000;
  config.engine.fulfilment.delivered_outbox_count_max = 1 << 13;
  const std::string path = "/tmp/eleven-limits-test-" + std::to_string(getpid()) + ".toml";
  {
    std::ofstream(path) << EngineConfigToml(config.engine, ClockMode::kClient);
  }
  ServerConfig read;
  const Status loaded = LoadServerConfig(path, &read);
  std::remove(path.c_str());
  ASSERT_TRUE(loaded.ok()) << loaded.ToString();
  EXPECT_EQ(read.clock, ClockMode::kClient);
  const wire::LimitsRecord want = engine::LimitsOf(config.engine);
  const wire::LimitsRecord got_toml = engine::LimitsOf(read.engine);
  EXPECT_EQ(std::memcmp(&want, &got_toml, sizeof(want)), 0);

  std::unique_ptr<Server> server = StartServer(config);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<client::Client> client = ConnectClient(server->binary_port());
  ASSERT_NE(client, nullptr);
  wire::LimitsRecord limits{};
  ASSERT_TRUE(client->GetLimits(&limits).ok());
  EXPECT_EQ(std::memcmp(&want, &limits, sizeof(want)), 0);
  EXPECT_EQ(limits.milestone_count, 2u);
  EXPECT_EQ(limits.ledger_enabled, 1);

  std::vector<wire::Command> commands = {wire::MakeCreateMerchant(1, "CN", 0),
                                         wire::MakeCreateSku(101, 1, 1000, 10, 0),
                                         wire::MakePlaceOrder(1, 1, 7, 1, 1, {{101, 2}}),
                                         wire::MakePlaceOrder(2, 1, 7, 1, 1, {{101, 99}})};
  std::vector<wire::Result> results;
  ASSERT_TRUE(client->SubmitSync(commands, &results).ok());
  ASSERT_EQ(results[2].code, Code::ok);
  ASSERT_EQ(results[3].code, Code::insufficient_stock);
  wire::StatsRecord stats{};
  ASSERT_TRUE(client->GetStats(&stats).ok());
  EXPECT_EQ(stats.orders_accepted, 1u);
  EXPECT_EQ(stats.orders_rejected, 1u);
  EXPECT_EQ(stats.gmv_placed_fen, 2000);
  client.reset();
}

}  // namespace
}  // namespace eleven::server::testing
