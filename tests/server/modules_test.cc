// Payments (the ledger) and fulfilment end to end over loopback, through both the binary
// protocol (the C++ client's ledger and fulfilment queries) and the HTTP/JSON routes:
// accounts and transfers (two-phase, a linked chain failing all-or-nothing), an order paid
// by instalments and shipped, tracked through to delivery and settled; a bad tracking
// transition and malformed JSON refused with their codes and nothing changed.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "client/client.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

using wire::Code;


// The length of the array field `key`; -1 if absent.
int64_t Count(const std::string& body, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array array;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc[key].get(array) != simdjson::SUCCESS) return -1;
  return static_cast<int64_t>(array.size());
}

class ModulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer(ModulesConfig(dir_.path()));
    ASSERT_NE(server_, nullptr);
    client_ = ConnectClient(server_->binary_port());
    ASSERT_NE(client_, nullptr);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  HttpReply Call(const std::string& method, const std::string& target, const std::string& body = "") {
    return HttpCall(server_->http_port(), method, target, body);
  }
  // POSTs and expects `status`; returns the body.
  std::string Post(const std::string& target, const std::string& body, int status = 200) {
    const HttpReply reply = Call("POST", target, body);
    EXPECT_EQ(reply.status, status) << "POST " << target << " " << body << " -> " << reply.body;
    return reply.body;
  }
  std::string Get(const std::string& target, int status = 200) {
    const HttpReply reply = Call("GET", target);
    EXPECT_EQ(reply.status, status) << "GET " << target << " -> " << reply.body;
    return reply.body;
  }
  std::vector<Code> Submit(std::vector<wire::Command> commands) {
    std::vector<wire::Result> results;
    EXPECT_TRUE(client_->SubmitSync(commands, &results).ok());
    std::vector<Code> codes;
    for (const wire::Result& r : results) codes.push_back(r.code);
    return codes;
  }

  TempDataDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<client::Client> client_;
};

wire::Command Account(uint64_t id, uint8_t flags = 0) {
  wire::LedgerCommand c{};
  c.create_account = {wire::kCreateAccount, flags, 1, 1, id, 0, {}};
  return wire::AsCommand(c);
}

wire::Command Transfer(uint64_t id, uint64_t debit, uint64_t credit, int64_t amount, uint8_t flags = 0,
                       uint64_t pending_id = 0) {
  wire::LedgerCommand c{};
  c.create_transfer = {wire::kCreateTransfer, flags, 1, 1, id, debit, credit, amount, pending_id, 0, 0, {}};
  return wire::AsCommand(c);
}

TEST_F(ModulesTest, AccountsAndTransfersOverProtocolAndHttp) {
  // Accounts 1 and 2 by the protocol, 3 (may not go below zero) by HTTP.
  EXPECT_EQ(Submit({Account(1), Account(2)}), (std::vector<Code>{Code::ok, Code::ok}));
  Post("/accounts", R"({"account_id":3,"ledger":1,"code":1,"debits_must_not_exceed_credits":true})");
  // Posted, pending then posted in full, pending then voided.
  EXPECT_EQ(Submit({Transfer(100, 1, 2, 500), Transfer(101, 1, 2, 300, wire::kTransferPending),
                    Transfer(102, 0, 0, 0, wire::kPostPendingTransfer, 101),
                    Transfer(103, 1, 2, 200, wire::kTransferPending)}),
            (std::vector<Code>{Code::ok, Code::ok, Code::ok, Code::ok}));
  const std::string pending = Get("/accounts/1");
  EXPECT_EQ(Field(pending, "debits_pending_fen"), "200");
  Post("/transfers", R"({"transfer_id":104,"pending_id":103,"void_pending_transfer":true})");
  // A linked chain whose second member overdraws account 3: nothing of it remains.
  const std::string chain = Post("/transfers",
                                 R"([{"transfer_id":105,"debit_account_id":2,"credit_account_id":1,"amount_fen":100,"ledger":1,"code":1,"linked":true},
                                     {"transfer_id":106,"debit_account_id":3,"credit_account_id":1,"amount_fen":50,"ledger":1,"code":1}])",
                                 409);
  EXPECT_EQ(Field(chain, "error"), "exceeds_credits") << chain;
  EXPECT_EQ(Count(chain, "results"), 2) << chain;
  EXPECT_NE(chain.find("\"error\":\"linked_event_failed\""), std::string::npos) << chain;

  // Balances over the protocol.
  Code code = Code::invalid_operation;
  wire::AccountRecord account{};
  ASSERT_TRUE(client_->GetAccount(1, &code, &account).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_EQ(account.debits_posted_fen, 800);
  EXPECT_EQ(account.debits_pending_fen, 0);
  EXPECT_EQ(account.credits_posted_fen, 0);  // the chain's 105 did not stay
  ASSERT_TRUE(client_->GetAccount(2, &code, &account).ok());
  EXPECT_EQ(account.credits_posted_fen, 800);
  ASSERT_TRUE(client_->GetAccount(99, &code, &account).ok());
  EXPECT_EQ(code, Code::account_not_found);
  wire::TransferRecord transfer{};
  ASSERT_TRUE(client_->GetTransfer(101, &code, &transfer).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_EQ(transfer.state, wire::TransferState::kPendingPosted);
  ASSERT_TRUE(client_->GetTransfer(105, &code, &transfer).ok());
  EXPECT_EQ(code, Code::transfer_not_found);
  std::vector<wire::TransferRecord> transfers;
  ASSERT_TRUE(client_->GetAccountTransfers(1, 0, 10, &code, &transfers).ok());
  EXPECT_EQ(code, Code::ok);
  ASSERT_EQ(transfers.size(), 5u);  // 100..104, newest first
  EXPECT_EQ(transfers[0].transfer_id, 104u);
  EXPECT_EQ(transfers[4].transfer_id, 100u);
  transfers.clear();
  ASSERT_TRUE(client_->GetAccountTransfers(3, 0, 10, &code, &transfers).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_TRUE(transfers.empty());
  ASSERT_TRUE(client_->GetAccountTransfers(1, 4, 10, &code, &transfers).ok());
  EXPECT_EQ(code, Code::invalid_query);
  ASSERT_TRUE(client_->GetAccountTransfers(99, 0, 10, &code, &transfers).ok());
  EXPECT_EQ(code, Code::account_not_found);
  EXPECT_TRUE(transfers.empty());

  // The same over HTTP.
  EXPECT_EQ(Field(Get("/accounts/2"), "credits_posted_fen"), "800");
  EXPECT_EQ(Field(Get("/transfers/101"), "state"), "pending_posted");
  EXPECT_EQ(Field(Get("/transfers/105", 404), "error"), "transfer_not_found");
  const std::string two = Get("/accounts/1/transfers?limit=2");
  EXPECT_EQ(Count(two, "transfers"), 2) << two;
  EXPECT_EQ(Count(Get("/accounts/2/transfers?flags=1"), "transfers"), 0);  // 2 was never debited
  EXPECT_EQ(Count(Get("/accounts/2/transfers?flags=2&limit=8190"), "transfers"), 5);
  // Page by page: a full page carries a cursor for the next, the last one none.
  EXPECT_NE(two.find(R"("transfer_id":104,)"), std::string::npos) << two;
  const std::string next = Get("/accounts/1/transfers?limit=2&cursor=" + Field(two, "next_cursor"));
  EXPECT_NE(next.find(R"("transfer_id":102,)"), std::string::npos) << next;
  const std::string last = Get("/accounts/1/transfers?limit=2&cursor=" + Field(next, "next_cursor"));
  EXPECT_EQ(Count(last, "transfers"), 1) << last;
  EXPECT_NE(last.find(R"("transfer_id":100,)"), std::string::npos) << last;
  EXPECT_EQ(Field(last, "next_cursor"), "") << last;
  EXPECT_EQ(Field(Get("/accounts/2/transfers?cursor=" + Field(two, "next_cursor"), 400), "error"), "bad_cursor");
  EXPECT_EQ(Field(Get("/accounts/1/transfers?flags=1&cursor=" + Field(two, "next_cursor"), 400), "error"), "bad_cursor");
  // And over the protocol, after a transfer.
  ASSERT_TRUE(client_->GetAccountTransfers(1, 0, 10, &code, &transfers, 102).ok());
  EXPECT_EQ(code, Code::ok);
  ASSERT_EQ(transfers.size(), 2u);
  EXPECT_EQ(transfers[0].transfer_id, 101u);
}

TEST_F(ModulesTest, OrderPaidByInstalmentsShippedTrackedAndSettled) {
  // Warehouse 1 and courier 1 serve region 3; merchant 1 sells SKU 10 at 120 yuan; buyer 7
  // may owe up to 10,000 yuan on instalments.
  Post("/merchants", R"({"merchant_id":1,"country":"CN"})");
  Post("/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":12000,"stock":100})");
  Post("/buyers/7/credit-limit", R"({"limit_fen":1000000})");
  Post("/warehouses", R"({"warehouse_id":1,"region":3,"x_km":200,"y_km":0,"hourly_capacity":1000,"daily_capacity":10000})");
  Post("/warehouses/1/stock", R"({"sku_id":10,"units":50})");
  Post("/couriers", R"({"courier_id":1,"name":"ZTO","mode":"express","promised_days":2,"hourly_capacity":1000,"cost_fen":500,"waybill_first":1000000,"waybill_count":1000000})");
  Post("/couriers/1/coverage", R"({"regions":[3]})");
  const std::string placed =
      Post("/orders", R"({"idempotency_key":1,"merchant_id":1,"buyer_id":7,"region":3,"city_tier":4,"lines":[{"sku_id":10,"quantity":1}]})");
  const std::string order = Field(placed, "id");
  ASSERT_FALSE(order.empty());
  Post("/orders/" + order + "/pay", R"({"amount_fen":12000,"payment_method":"instalment_merchant_fee","instalment_periods":3})");

  // Plan and money, over HTTP and the protocol.
  const std::string plan = Get("/orders/" + order + "/plan");
  EXPECT_EQ(Field(plan, "periods"), "3");
  EXPECT_EQ(Field(plan, "state"), "active");
  EXPECT_EQ(Field(plan, "principal_fen"), "12000");
  EXPECT_EQ(Field(Get("/orders/" + order + "/money"), "state"), "paid");
  const uint64_t order_id = std::stoull(order);
  Code code = Code::invalid_operation;
  wire::PlanRecord plan_record{};
  ASSERT_TRUE(client_->GetPlan(order_id, &code, &plan_record).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_EQ(plan_record.total_fen, 12000);
  EXPECT_EQ(plan_record.state, wire::PlanState::kActive);
  Post("/buyers/7/deposit", R"({"transfer_id":400,"amount_fen":10000})");
  Post("/orders/" + order + "/plan/repay", R"({"transfer_id":500,"periods":1})");
  ASSERT_TRUE(client_->GetPlan(order_id, &code, &plan_record).ok());
  EXPECT_EQ(plan_record.repaid_count, 1);
  EXPECT_EQ(plan_record.repaid_fen, 4000);
  wire::BuyerCreditRecord buyer{};
  ASSERT_TRUE(client_->GetBuyerCredit(7, &code, &buyer).ok());
  EXPECT_EQ(buyer.outstanding_fen, 8000);
  EXPECT_EQ(Field(Get("/buyers/7/credit"), "outstanding_fen"), "8000");

  // The shipment: one parcel from warehouse 1 by courier 1.
  wire::ShipmentRecord shipment{};
  ASSERT_TRUE(client_->GetShipment(order_id, &code, &shipment).ok());
  ASSERT_EQ(code, Code::ok);
  ASSERT_EQ(shipment.state, wire::ShipmentState::kAllocated);
  ASSERT_EQ(shipment.parcel_count, 1);
  const std::string waybill = std::to_string(shipment.waybill[0]);
  EXPECT_EQ(Count(Get("/orders/" + order + "/shipment"), "waybills"), 1);
  EXPECT_EQ(Field(Get("/warehouses/1/stock/10"), "units"), "49");
  protocol::WarehouseStockRecord stock{};
  ASSERT_TRUE(client_->GetWarehouseStock(1, 10, &code, &stock).ok());
  EXPECT_EQ(stock.units, 49u);

  // Tracking to delivery; a jump ahead is refused with its code and changes nothing.
  const std::string events = "/parcels/" + waybill + "/events";
  Post(events, R"({"event":"picked","hub":11})");
  const std::string jump = Post(events, R"({"event":"delivered"})", 409);
  EXPECT_EQ(Field(jump, "error"), "tracking_transition_invalid") << jump;
  EXPECT_EQ(Field(Get("/parcels/" + waybill), "state"), "picked");
  for (const char* event : {"packed", "handed_to_courier", "departed_hub", "arrived_hub", "out_for_delivery"}) {
    Post(events, std::string(R"({"event":")") + event + "\"}");
  }
  EXPECT_EQ(Field(Get("/orders/" + order + "/money"), "state"), "paid");
  const std::string delivered = Post(events, R"({"event":"delivered","hub":12})");
  EXPECT_EQ(Field(delivered, "state"), "delivered") << delivered;

  // Delivery settled the order with the merchant.
  const std::string money = Get("/orders/" + order + "/money");
  EXPECT_EQ(Field(money, "state"), "settled") << money;
  EXPECT_EQ(Field(Get("/orders/" + order), "state"), "delivered");
  wire::OrderMoneyRecord money_record{};
  ASSERT_TRUE(client_->GetOrderMoney(order_id, &code, &money_record).ok());
  EXPECT_EQ(money_record.state, wire::OrderMoneyState::kSettled);
  EXPECT_GT(money_record.merchant_net_fen, 0);
  EXPECT_EQ(Field(Get("/merchants/1/credit"), "wallet_fen"), std::to_string(money_record.merchant_net_fen));
  std::vector<wire::TimelineEntry> timeline;
  ASSERT_TRUE(client_->GetTimeline(shipment.waybill[0], &code, &timeline).ok());
  ASSERT_EQ(timeline.size(), 8u);  // allocated + 7 events
  EXPECT_EQ(timeline.front().state, wire::ParcelState::kAllocated);
  EXPECT_EQ(timeline.back().state, wire::ParcelState::kDelivered);
  EXPECT_EQ(timeline.back().hub, 12u);
  EXPECT_EQ(Count(Get("/parcels/" + waybill + "/timeline"), "events"), 8);
  wire::FiguresRecord figures{};
  ASSERT_TRUE(client_->GetFigures(&code, &figures).ok());
  EXPECT_EQ(figures.parcels_delivered, 1u);
  EXPECT_EQ(figures.parcels_dispatched, 1u);
  EXPECT_EQ(Field(Get("/fulfilment/figures"), "parcels_delivered"), "1");
  // The hour of the dispatch has the parcel in both the warehouse's and the courier's figures.
  wire::ParcelRecord parcel{};
  ASSERT_TRUE(client_->GetParcel(shipment.waybill[0], &code, &parcel).ok());
  const std::string hour = std::to_string(parcel.handed_at_us / 3'600'000'000ULL);
  EXPECT_EQ(Field(Get("/warehouses/1/hours/" + hour), "dispatched"), "1");
  wire::HourFigure courier_hour{};
  ASSERT_TRUE(client_->GetCourierHour(1, std::stoull(hour), &code, &courier_hour).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_EQ(courier_hour.dispatched, 1u);
  // The digest over both doors is the same state.
  protocol::DigestRecord digest{};
  ASSERT_TRUE(client_->GetDigest(&digest).ok());
  const std::string http_digest = Get("/engine/digest");
  EXPECT_EQ(Field(http_digest, "op"), std::to_string(digest.op));
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(digest.digest_high),
                static_cast<unsigned long long>(digest.digest_low));
  EXPECT_EQ(Field(http_digest, "digest"), hex);
}

// The lookups answer what was created, over HTTP and the binary protocol alike, and name
// what is missing.
TEST_F(ModulesTest, MerchantsWarehousesAndCouriersAreLookedUpAsCreated) {
  Post("/merchants", R"({"merchant_id":7,"country":"JP","overseas":true})");
  Post("/warehouses",
       R"({"warehouse_id":3,"region":11,"city":4,"x_km":-20,"y_km":35,"hourly_capacity":100,"daily_capacity":900,"bonded":true})");
  Post("/couriers",
       R"({"courier_id":5,"name":"SF","mode":"charter_air","promised_days":4,"hourly_capacity":70,"cost_fen":1200,"waybill_first":500,"waybill_count":100})");
  Post("/couriers/5/coverage", R"({"regions":[3,4,11]})");

  const std::string merchant = Get("/merchants/7");
  EXPECT_EQ(Field(merchant, "country"), "JP") << merchant;
  EXPECT_EQ(Field(merchant, "overseas"), "true") << merchant;
  const std::string warehouse = Get("/warehouses/3");
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"region", "11"}, {"city", "4"}, {"x_km", "-20"}, {"y_km", "35"}, {"hourly_capacity", "100"},
           {"daily_capacity", "900"}, {"bonded", "true"}, {"hour_used", "0"}, {"day_used", "0"}}) {
    EXPECT_EQ(Field(warehouse, key), value) << key << ": " << warehouse;
  }
  const std::string courier = Get("/couriers/5");
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"name", "SF"}, {"mode", "charter_air"}, {"promised_days", "4"}, {"hourly_capacity", "70"},
           {"cost_fen", "1200"}, {"waybill_first", "500"}, {"waybill_count", "100"}, {"waybill_issued", "0"},
           {"regions_covered", "3"}}) {
    EXPECT_EQ(Field(courier, key), value) << key << ": " << courier;
  }
  EXPECT_EQ(Field(Get("/merchants/8", 404), "error"), "merchant_not_found");
  EXPECT_EQ(Field(Get("/warehouses/4", 404), "error"), "warehouse_not_found");
  EXPECT_EQ(Field(Get("/couriers/6", 404), "error"), "courier_not_found");

  wire::Code code = wire::Code::ok;
  wire::MerchantRecord m{};
  ASSERT_TRUE(client_->GetMerchant(7, &code, &m).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_EQ(std::string(m.country, 2), "JP");
  wire::WarehouseRecord w{};
  ASSERT_TRUE(client_->GetWarehouse(3, &code, &w).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_EQ(w.x_km, -20);
  EXPECT_EQ(w.daily_capacity, 900u);
  wire::CourierRecord c{};
  ASSERT_TRUE(client_->GetCourier(5, &code, &c).ok());
  EXPECT_EQ(code, Code::ok);
  EXPECT_EQ(c.mode, wire::CourierMode::kCharterAir);
  EXPECT_EQ(c.regions_covered, 3u);
  ASSERT_TRUE(client_->GetCourier(6, &code, &c).ok());
  EXPECT_EQ(code, Code::courier_not_found);
}

TEST_F(ModulesTest, MalformedModuleJsonChangesNothing) {
  EXPECT_EQ(Submit({Account(1), Account(2), Transfer(100, 1, 2, 500)}),
            (std::vector<Code>{Code::ok, Code::ok, Code::ok}));
  const std::string digest = Get("/engine/digest");
  const std::string balance = Get("/accounts/1");
  struct Case {
    std::string method, target, body, error;
  };
  const std::vector<Case> cases = {
      {"POST", "/transfers", R"({"transfer_id":1,"amount_fen":"5"})", "invalid_request"},
      {"POST", "/transfers", R"({"transfer_id":-1})", "invalid_request"},
      {"POST", "/transfers", R"({"transfer_id":18446744073709551616})", "invalid_request"},
      {"POST", "/transfers", R"({"transfer_id":1,"amount_fen":9223372036854775808})", "invalid_request"},
      {"POST", "/transfers", R"({"transfer_id":1,"evil":1})", "invalid_request"},
      {"POST", "/transfers", R"({"transfer_id":1,"transfer_id":2})", "invalid_request"},
      {"POST", "/transfers", "[]", "invalid_request"},
      {"POST", "/transfers", R"([{"transfer_id":7,"debit_account_id":1,"credit_account_id":2,"amount_fen":5,"ledger":1,"code":1},5])", "invalid_request"},
      {"POST", "/transfers", R"({"transfer_id":1}garbage)", "invalid_json"},
      {"POST", "/transfers", "{", "invalid_json"},
      {"POST", "/accounts", R"({"account_id":5,"ledger":1,"code":70000})", "invalid_request"},
      {"POST", "/accounts", R"({"account_id":5,"ledger":1,"code":1,"linked":1})", "invalid_request"},
      {"POST", "/accounts", R"({"account_id":5,"ledger":1,"code":1,"pending":true})", "invalid_request"},
      {"POST", "/buyers/7/deposit", R"({"transfer_id":1})", "invalid_request"},
      {"POST", "/buyers/x/deposit", R"({"transfer_id":1,"amount_fen":1})", "invalid_request"},
      {"POST", "/merchants/1/credit-line", R"({"limit_fen":5,"withhold_bp":-1})", "invalid_request"},
      {"POST", "/orders/1/pay", R"({"amount_fen":1,"payment_method":"cash"})", "invalid_payment_method"},
      {"POST", "/orders/1/plan/repay", R"({"transfer_id":1,"periods":256})", "invalid_request"},
      {"POST", "/couriers", R"({"courier_id":1,"name":"ZTO","mode":"teleport","promised_days":2,"hourly_capacity":1,"cost_fen":1,"waybill_first":1,"waybill_count":1})", "courier_mode_invalid"},
      {"POST", "/couriers", R"({"courier_id":1,"name":"a name far too long","mode":"express","promised_days":2,"hourly_capacity":1,"cost_fen":1,"waybill_first":1,"waybill_count":1})", "courier_name_invalid"},
      {"POST", "/couriers/1/coverage", R"({"regions":[0]})", "invalid_region"},
      {"POST", "/couriers/1/coverage", R"({"regions":"all"})", "invalid_request"},
      {"POST", "/parcels/5/events", R"({"event":"allocated"})", "tracking_event_invalid"},
      {"POST", "/parcels/5/events", R"({"event":8})", "invalid_request"},
      {"POST", "/warehouses", R"({"warehouse_id":1,"region":3,"x_km":3000000000,"y_km":0,"hourly_capacity":1,"daily_capacity":1})", "invalid_request"},
      {"POST", "/warehouses/1/stock", R"({"sku_id":10,"units":-3})", "invalid_quantity"},
      {"POST", "/regions/1000/point", R"({"x_km":1,"y_km":1})", "invalid_region"},
      {"GET", "/accounts/1/transfers?limit=0", "", "invalid_request"},
      {"GET", "/accounts/1/transfers?limit=8191", "", "invalid_request"},
      {"GET", "/accounts/1/transfers?flags=4", "", "invalid_request"},
      {"GET", "/accounts/1/transfers?bogus=1", "", "invalid_request"},
      {"GET", "/warehouses/1/stock/-1", "", "invalid_request"},
  };
  for (const Case& c : cases) {
    const HttpReply reply = Call(c.method, c.target, c.body);
    EXPECT_EQ(reply.status, 400) << c.target << " " << c.body << " -> " << reply.body;
    EXPECT_EQ(Field(reply.body, "error"), c.error) << c.target << " " << c.body << " -> " << reply.body;
    EXPECT_FALSE(Field(reply.body, "message").empty()) << reply.body;
  }
  // Nothing reached the engine: same log position, same state.
  EXPECT_EQ(Get("/engine/digest"), digest);
  EXPECT_EQ(Get("/accounts/1"), balance);
  // A well-formed command the engine refuses is answered with its code (and moves no money).
  const std::string negative = Post(
      "/transfers", R"({"transfer_id":9,"debit_account_id":1,"credit_account_id":2,"amount_fen":-5,"ledger":1,"code":1})", 400);
  EXPECT_EQ(Field(negative, "error"), "invalid_amount") << negative;
  EXPECT_EQ(Field(Get("/accounts/1"), "debits_posted_fen"), "500");
}


namespace eleven::server::testing {
namespace {

// A body that decodes to more commands than the server's batch is refused whole (the engine
// loop takes each request into one batch).
// Another valid value for a manifest value (as the manifest writes it).
std::string ChangedValue(const std::string& value) {
  if (value == "true") return "false";
  if (value == "false") return "true";
  if (value == "\"wall\"") return "\"client\"";
  if (value == "\"client\"") return "\"wall\"";
  if (value.front() == '[') return "[5]";
  return std::to_string(std::stoull(value) + 1);
}

std::map<std::string, uint64_t> Files(const std::string& dir) {
  std::map<std::string, uint64_t> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    files[entry.path().filename()] = entry.file_size();
  return files;
}

// The data directory owns its shape: a server with payments and fulfilment on, restarted
// with a TOML file that changes any state-shaping key, is refused with the key and both
// values and nothing written; restarted with no engine settings at all, it takes the
// recorded shape, and the paid order is still paid, with its money and its plan.
TEST_F(ModulesTest, EveryShapeKeyChangedOnRestartIsRefusedAndStateIsIntact) {
  Post("/merchants", R"({"merchant_id":1,"country":"CN"})");
  Post("/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":12000,"stock":100})");
  Post("/buyers/7/credit-limit", R"({"limit_fen":1000000})");
  const std::string order = Field(
      Post(
          "/orders",
          R"({"idempotency_key":1,"merchant_id":1,"buyer_id":7,"region":3,"city_tier":4,"lines":[{"sku_id":10,"quantity":1}]})"),
      "id");
  ASSERT_FALSE(order.empty());
  Post("/orders/" + order + "/pay",
       R"({"amount_fen":12000,"payment_method":"instalment_merchant_fee","instalment_periods":3})");
  client_.reset();
  server_->Stop();
  const Digest128 digest = server_->engine().Digest();
  server_.reset();

  const std::map<std::string, uint64_t> files = Files(dir_.path());
  const ServerConfig base = ModulesConfig(dir_.path());
  const std::vector<ManifestEntry> recorded = replica::ShapeToManifest(ShapeOfConfig(base));
  const std::string toml = dir_.path() + ".toml";
  for (const std::string& key : kTomlShapeKeys) {
    const auto at = std::find_if(recorded.begin(), recorded.end(),
                                 [&](const ManifestEntry& e) { return e.key == key; });
    ASSERT_NE(at, recorded.end()) << key << " is not a manifest key";
    const std::string changed = ChangedValue(at->value);
    std::ofstream(toml) << key << " = " << changed << "\n";
    ServerConfig config = base;
    ASSERT_TRUE(LoadServerConfig(toml, &config).ok()) << key;
    std::unique_ptr<Server> server;
    const Status status = Server::Open(config, &server);
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << key;
    const std::string expected = key + " = " + changed + " in " + toml +
                                 ", but the data directory " + dir_.path() +
                                 " was formatted with " + at->value;
    EXPECT_NE(status.message().find(expected), std::string::npos) << status.ToString();
    EXPECT_EQ(Files(dir_.path()), files)
        << "a refused start with " << key << " changed the data directory";
  }
  std::filesystem::remove(toml);

  // No engine settings given (TestConfig has the ledger and fulfilment off, but says nothing).
  server_ = StartServer(TestConfig(dir_.path()));
  ASSERT_NE(server_, nullptr);
  EXPECT_EQ(Field(Get("/orders/" + order + "/money"), "state"), "paid");
  EXPECT_EQ(Field(Get("/orders/" + order + "/plan"), "state"), "active");
  EXPECT_EQ(server_->config().engine.ledger.account_count_max,
            base.engine.ledger.account_count_max);
  server_->Stop();
  EXPECT_TRUE(server_->engine().config().ledger_enabled);
  EXPECT_TRUE(server_->engine().config().fulfilment_enabled);
  EXPECT_EQ(server_->engine().Digest(), digest);
}

// A TOML key that changes the shape is one the start checks: every manifest key that the
// file can set is listed in kTomlShapeKeys, so none is silently overridden by the manifest.
TEST(ShapeKeys, EveryShapeKeyTheTomlFileSetsIsChecked) {
  const std::string toml = std::filesystem::temp_directory_path() / "eleven-shape-keys-test.toml";
  const std::vector<ManifestEntry> defaults = replica::ShapeToManifest(ShapeOfConfig(ServerConfig{}));
  for (const ManifestEntry& entry : defaults) {
    std::ofstream(toml) << entry.key << " = " << ChangedValue(entry.value) << "\n";
    ServerConfig config;
    ASSERT_TRUE(LoadServerConfig(toml, &config).ok()) << entry.key;
    const std::vector<ManifestEntry> read = replica::ShapeToManifest(ShapeOfConfig(config));
    const bool changed = read != defaults;
    const bool given = std::any_of(config.shape_given.begin(), config.shape_given.end(),
                                   [&](const replica::ShapeKeySource& g) { return g.key == entry.key; });
    EXPECT_EQ(changed, given) << entry.key;
  }
  std::filesystem::remove(toml);
}

TEST(ModulesBatchTest, BodyBeyondTheBatchIsRefused) {
  TempDataDir dir;
  ServerConfig config = ModulesConfig(dir.path());
  config.engine.batch_command_count_max = 1;
  auto server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->http_port();
  const std::string digest = HttpCall(port, "GET", "/engine/digest").body;
  const HttpReply two = HttpCall(port, "POST", "/accounts",
                                 R"([{"account_id":1,"ledger":1,"code":1},{"account_id":2,"ledger":1,"code":1}])");
  EXPECT_EQ(two.status, 400) << two.body;
  EXPECT_NE(two.body.find("\"error\":\"invalid_request\""), std::string::npos) << two.body;
  EXPECT_EQ(HttpCall(port, "GET", "/engine/digest").body, digest);
  EXPECT_EQ(HttpCall(port, "POST", "/accounts", R"([{"account_id":1,"ledger":1,"code":1}])").status, 200);
}

}  // namespace
}  // namespace eleven::server::testing

// The order id in a POST /orders reply.
std::string OrderId(const std::string& body) { return Field(body, "id"); }

// docs/returns.md from the outside: confirm-delivery only once shipped, a paid order
// cancelled before it ships (refund, stock back, parcel cancelled), a shipped one refused,
// a returned parcel refunded, and an after-sales refund (HTTP and the binary protocol).
TEST_F(ModulesTest, ReturnsCancellationsAndAfterSalesRefunds) {
  Post("/merchants", R"({"merchant_id":1,"country":"CN"})");
  Post("/skus", R"({"sku_id":10,"merchant_id":1,"price_fen":12000,"stock":100})");
  Post("/warehouses", R"({"warehouse_id":1,"region":3,"x_km":200,"y_km":0,"hourly_capacity":1000,"daily_capacity":10000})");
  Post("/warehouses/1/stock", R"({"sku_id":10,"units":50})");
  Post("/couriers", R"({"courier_id":1,"name":"ZTO","mode":"express","promised_days":2,"hourly_capacity":1000,"cost_fen":500,"waybill_first":1000000,"waybill_count":1000000})");
  Post("/couriers/1/coverage", R"({"regions":[3]})");
  auto paid_order = [&](int key) {
    const std::string order = OrderId(Post("/orders", "{\"idempotency_key\":" + std::to_string(key) +
                                                          R"(,"merchant_id":1,"buyer_id":7,"region":3,"city_tier":4,"lines":[{"sku_id":10,"quantity":1}]})"));
    Post("/orders/" + order + "/pay", R"({"amount_fen":12000,"payment_method":"card"})");
    return order;
  };
  auto waybill_of = [&](const std::string& order) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    uint64_t waybill = 0;
    EXPECT_EQ(parser.parse(Get("/orders/" + order + "/shipment")).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(doc["waybills"].at(0).get(waybill), simdjson::SUCCESS);
    return std::to_string(waybill);
  };

  // A: not shipped, so no confirm-delivery; cancelled: refunded, the unit and the warehouse
  // stock back, the parcel cancelled.
  const std::string a = paid_order(1);
  const std::string a_parcel = "/parcels/" + waybill_of(a);
  EXPECT_EQ(Field(Post("/orders/" + a + "/confirm-delivery", "", 409), "error"), "order_not_shipped");
  EXPECT_EQ(Field(Get("/orders/" + a + "/money"), "state"), "paid");
  Post(a_parcel + "/events", R"({"event":"picked"})");
  EXPECT_EQ(Field(Get("/warehouses/1/stock/10"), "units"), "49");
  const std::string cancelled = Post("/orders/" + a + "/cancel", "");
  EXPECT_EQ(Field(cancelled, "state"), "cancelled") << cancelled;
  const std::string a_money = Get("/orders/" + a + "/money");
  EXPECT_EQ(Field(a_money, "state"), "refunded") << a_money;
  EXPECT_EQ(Field(a_money, "refunded_fen"), "12000");
  EXPECT_EQ(Field(Get("/skus/10"), "available"), "100");
  EXPECT_EQ(Field(Get("/warehouses/1/stock/10"), "units"), "50");
  EXPECT_EQ(Field(Get(a_parcel), "state"), "cancelled");
  EXPECT_EQ(Field(Post(a_parcel + "/events", R"({"event":"packed"})", 409), "error"), "tracking_transition_invalid");
  EXPECT_EQ(Field(Post(a_parcel + "/events", R"({"event":"cancelled"})", 400), "error"), "tracking_event_invalid");
  EXPECT_EQ(Field(Get("/fulfilment/figures"), "shipments_cancelled"), "1");

  // B: shipped, so the cancel is refused; the buyer confirms; an after-sales refund within
  // the window comes from the merchant; a retry moves nothing; more than was paid is refused.
  const std::string b = paid_order(2);
  const std::string b_events = "/parcels/" + waybill_of(b) + "/events";
  for (const char* event : {"picked", "packed", "handed_to_courier"}) {
    Post(b_events, std::string(R"({"event":")") + event + "\"}");
  }
  EXPECT_EQ(Field(Post("/orders/" + b + "/cancel", "", 409), "error"), "order_already_shipped");
  Post("/orders/" + b + "/confirm-delivery", "");
  const int64_t net = std::stoll(Field(Get("/orders/" + b + "/money"), "merchant_net_fen"));
  EXPECT_EQ(Field(Post("/orders/" + b + "/after-sales-refund", R"({"refund_id":900,"amount_fen":20000})", 422), "error"),
            "refund_exceeds_paid");
  const std::string refund = Post("/orders/" + b + "/after-sales-refund", R"({"refund_id":900,"amount_fen":1000})");
  EXPECT_EQ(Field(refund, "code"), "ok") << refund;
  // A retry answers as the first did, marked as a replay, and moves nothing.
  const std::string retried = Post("/orders/" + b + "/after-sales-refund", R"({"refund_id":900,"amount_fen":1000})");
  EXPECT_EQ(Field(retried, "code"), "ok") << retried;
  EXPECT_NE(retried.find("\"replayed\":true"), std::string::npos) << retried;
  EXPECT_EQ(Field(Get("/orders/" + b + "/money"), "refunded_fen"), "1000");
  EXPECT_EQ(Field(Get("/merchants/1/credit"), "wallet_fen"), std::to_string(net - 1000));
  // The same command through the binary protocol.
  wire::LedgerCommand c{};
  c.after_sales_refund = {wire::kAfterSalesRefund, {}, 901, std::stoull(b), 500, {}};
  EXPECT_EQ(Submit({wire::AsCommand(c)}), (std::vector<Code>{Code::ok}));
  EXPECT_EQ(Field(Get("/orders/" + b + "/money"), "refunded_fen"), "1500");

  // C: the parcel comes back: refunded, nothing settled, the order returned.
  const std::string c_order = paid_order(3);
  const std::string c_events = "/parcels/" + waybill_of(c_order) + "/events";
  for (const char* event : {"picked", "packed", "handed_to_courier", "exception", "returned"}) {
    Post(c_events, std::string(R"({"event":")") + event + "\"}");
  }
  EXPECT_EQ(Field(Get("/orders/" + c_order), "state"), "returned");
  const std::string c_money = Get("/orders/" + c_order + "/money");
  EXPECT_EQ(Field(c_money, "state"), "refunded") << c_money;
  EXPECT_EQ(Field(c_money, "merchant_net_fen"), "0");
  EXPECT_EQ(Field(Get("/merchants/1/credit"), "wallet_fen"), std::to_string(net - 1500));

  // The sales figures count each refund once: A's whole, B's two after-sales refunds, C's whole.
  const std::string figures = Get("/figures");
  EXPECT_NE(figures.find(R"("total":{"gross_fen":36000,"discounts_fen":0,"refunds_fen":25500,"net_fen":10500,"orders":3,"units":3})"),
            std::string::npos) << figures;
  EXPECT_NE(figures.find(R"("by_city_tier":[{"city_tier":4,"gross_fen":36000,"discounts_fen":0,"refunds_fen":25500,)"),
            std::string::npos) << figures;
  // The courier's parcels, the last waybill issued first, and by state.
  const std::string min_op = "min_op=" + Field(Get("/engine/digest"), "op");
  const std::string parcels = Get("/couriers/1/parcels?" + min_op);
  const std::string a_waybill = waybill_of(a), b_waybill = waybill_of(b), c_waybill = waybill_of(c_order);
  EXPECT_LT(parcels.find("\"waybill\":" + c_waybill), parcels.find("\"waybill\":" + b_waybill)) << parcels;
  EXPECT_LT(parcels.find("\"waybill\":" + b_waybill), parcels.find("\"waybill\":" + a_waybill)) << parcels;
  const std::string returned = Get("/couriers/1/parcels?state=returned&" + min_op);
  EXPECT_NE(returned.find("\"waybill\":" + c_waybill), std::string::npos) << returned;
  EXPECT_EQ(returned.find("\"waybill\":" + b_waybill), std::string::npos) << returned;
  EXPECT_EQ(Field(Get("/couriers/2/parcels", 404), "error"), "courier_not_found");
}
}  // namespace
}  // namespace eleven::server::testing
