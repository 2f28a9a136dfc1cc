// Access control in the engine (docs/access.md): the key commands and their refusals, a
// revoked key, keys across a snapshot, and roles and ownership with the ledger and fulfilment
// on (a courier's parcels, a storefront's orders and buyers, a merchant's wallet and orders).
// Every refusal is checked to change nothing: a twin engine fed the same batches without the
// refused command ends with the same digest.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "engine/engine.h"
#include "engine/fulfilment/fulfilment_test_util.h"
#include "engine/ledger/ledger_test_util.h"
#include "wire/access.h"
#include "wire/make.h"

namespace eleven::engine {
namespace {

using wire::Code;
using wire::PaymentMethod;
using wire::Role;
constexpr uint64_t kSecond = 1'000'000;

// A key's secret hash, one per `n` (n = 0: all zero).
std::array<uint8_t, wire::kSecretHashSize> Hash(uint8_t n) {
  std::array<uint8_t, wire::kSecretHashSize> hash{};
  if (n != 0) {
    for (size_t i = 0; i < hash.size(); i++) hash[i] = uint8_t(n + i);
  }
  return hash;
}

wire::Command CreateKey(Role role, uint64_t scope_id, uint8_t hash) {
  wire::CreateKey c{};
  c.operation = wire::kCreateKey;
  c.role = role;
  c.scope_id = scope_id;
  const auto h = Hash(hash);
  std::memcpy(c.secret_sha256, h.data(), h.size());
  return wire::ToCommand(c);
}

wire::Command RevokeKey(uint64_t key_id) {
  wire::RevokeKey c{};
  c.operation = wire::kRevokeKey;
  c.key_id = key_id;
  return wire::ToCommand(c);
}

// `command` as `issuer` sends it.
wire::Command As(uint32_t issuer, wire::Command command) {
  wire::SetIssuer(command, issuer);
  return command;
}

wire::Command AfterSales(uint64_t refund_id, uint64_t order_id, int64_t amount_fen) {
  wire::LedgerCommand c{};
  c.after_sales_refund.operation = wire::kAfterSalesRefund;
  c.after_sales_refund.refund_id = refund_id;
  c.after_sales_refund.order_id = order_id;
  c.after_sales_refund.amount_fen = amount_fen;
  return wire::AsCommand(c);
}

EngineConfig OrdersOnly() {
  EngineConfig config;
  config.merchant_count_max = 4;
  config.sku_count_max = 8;
  config.drop_count_max = 4;
  config.order_slot_count = 16;
  config.holding_count_max = 8;
  config.pay_window_us = 600 * kSecond;
  config.batch_command_count_max = 16;
  config.api_key_count_max = 6;
  return config;
}

EngineConfig WithModules() {
  EngineConfig config = OrdersOnly();
  config.api_key_count_max = 16;
  config.ledger_enabled = true;
  config.ledger = testing::SmallConfig();
  config.fulfilment_enabled = true;
  config.fulfilment.warehouse_count_max = 4;
  config.fulfilment.courier_count_max = 4;
  config.fulfilment.stock_entry_count_max = 16;
  config.fulfilment.sku_count_max = 16;
  config.fulfilment.parcel_count_max = 64;
  config.fulfilment.shipment_count_max = 64;
  config.fulfilment.backlog_count_max = 16;
  config.fulfilment.delivered_outbox_count_max = 16;
  return config;
}

// Two engines fed the same batches; Refused() feeds the one command to the first only.
class AccessTest : public ::testing::Test {
 protected:
  explicit AccessTest(const EngineConfig& config = OrdersOnly())
      : config_(config), engine_(config), twin_(config) {}

  std::vector<wire::Result> Run(std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size()), twin(commands.size());
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_, commands, results), BatchError::kNone);
    EXPECT_EQ(twin_.Apply(twin_.last_op() + 1, now_, commands, twin), BatchError::kNone);
    engine_.CheckInvariants();
    return results;
  }
  wire::Result One(const wire::Command& command) { return Run({command})[0]; }
  // Applies `command` expecting `code` and no change: the twin applies an empty batch.
  wire::Result Refused(const wire::Command& command, Code code) {
    std::vector<wire::Result> results(1);
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_, {&command, 1}, results),
              BatchError::kNone);
    EXPECT_EQ(twin_.Apply(twin_.last_op() + 1, now_, {}, {}), BatchError::kNone);
    engine_.CheckInvariants();
    EXPECT_EQ(results[0].code, code)
        << "engine " << wire::CodeName(results[0].code) << ", operation " << int(command.operation)
        << ", issuer " << wire::IssuerOf(command);
    EXPECT_EQ(engine_.Digest(), twin_.Digest())
        << "a refusal changed the state: operation " << int(command.operation);
    return results[0];
  }
  void Ok(const wire::Command& command) {
    const wire::Result r = One(command);
    EXPECT_EQ(r.code, Code::ok) << wire::CodeName(r.code) << ", operation "
                                << int(command.operation) << ", issuer " << wire::IssuerOf(command);
  }
  // Creates a key as the local operator; returns its id.
  uint32_t Key(Role role, uint64_t scope_id, uint8_t hash) {
    const wire::Result r = One(CreateKey(role, scope_id, hash));
    EXPECT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
    return uint32_t(r.id);
  }
  wire::KeyRecord KeyOf(uint64_t key_id) {
    wire::KeyRecord k{};
    EXPECT_EQ(engine_.GetKey(key_id, &k), Code::ok);
    return k;
  }

  EngineConfig config_;
  Engine engine_;
  Engine twin_;
  uint64_t now_ = kSecond;
};

TEST_F(AccessTest, CreateKeyRefusalsHaveTheirOwnCodesAndChangeNothing) {
  Ok(wire::MakeCreateMerchant(1, "CN", 0));
  Refused(CreateKey(Role::kNone, 0, 1), Code::invalid_role);
  Refused(CreateKey(Role(6), 0, 1), Code::invalid_role);
  Refused(CreateKey(Role(255), 0, 1), Code::invalid_role);
  // A scope the role does not take, or lacks one it needs.
  Refused(CreateKey(Role::kOperator, 5, 1), Code::invalid_key_scope);
  Refused(CreateKey(Role::kViewer, 1, 1), Code::invalid_key_scope);
  Refused(CreateKey(Role::kStorefront, 0, 1), Code::invalid_key_scope);
  Refused(CreateKey(Role::kMerchant, 0, 1), Code::invalid_key_scope);
  Refused(CreateKey(Role::kCourier, 0, 1), Code::invalid_key_scope);
  // A storefront id must fit 32 bits (the order row keeps it).
  Refused(CreateKey(Role::kStorefront, uint64_t(UINT32_MAX) + 1, 1), Code::invalid_key_scope);
  Refused(CreateKey(Role::kStorefront, UINT64_MAX, 1), Code::invalid_key_scope);
  Refused(CreateKey(Role::kMerchant, 9, 1), Code::merchant_not_found);
  Refused(CreateKey(Role::kCourier, 7, 1), Code::courier_not_found);  // fulfilment is off
  Refused(CreateKey(Role::kOperator, 0, 0), Code::invalid_id);        // a zero hash
  wire::Command reserved = CreateKey(Role::kOperator, 0, 1);
  reserved.bytes[60] = 1;
  Refused(reserved, Code::reserved_nonzero);
  reserved = CreateKey(Role::kOperator, 0, 1);
  reserved.bytes[wire::kTrailerOffset + 5] = 1;
  Refused(reserved, Code::reserved_nonzero);
  EXPECT_EQ(engine_.api_key_count(), 0u);

  // Ids 1, 2, 3 ... in order of creation; the largest storefront id is one.
  now_ = 2 * kSecond;
  const auto first = One(CreateKey(Role::kOperator, 0, 1));
  EXPECT_EQ(first.code, Code::ok);
  EXPECT_EQ(first.id, 1u);
  EXPECT_EQ(first.at_us, now_);
  EXPECT_EQ(Key(Role::kStorefront, UINT32_MAX, 2), 2u);
  // A secret already in use: refused, naming the key that holds it.
  const auto exists = Refused(As(1, CreateKey(Role::kViewer, 0, 2)), Code::key_exists);
  EXPECT_EQ(exists.id, 2u);
  // Only an operator creates keys.
  Refused(As(2, CreateKey(Role::kViewer, 0, 3)), Code::forbidden);
  Refused(As(3, CreateKey(Role::kViewer, 0, 3)), Code::unauthenticated);  // no key 3 yet
  EXPECT_EQ(One(As(1, CreateKey(Role::kMerchant, 1, 3))).id, 3u);
  const wire::KeyRecord merchant = KeyOf(3);
  EXPECT_EQ(merchant.role, Role::kMerchant);
  EXPECT_EQ(merchant.scope_id, 1u);
  EXPECT_EQ(merchant.state, wire::KeyState::kActive);
  EXPECT_EQ(merchant.created_by, 1u);  // made by operator key 1
  EXPECT_EQ(merchant.created_at_us, now_);
  EXPECT_EQ(merchant.revoked_at_us, 0u);
  EXPECT_EQ(KeyOf(2).scope_id, uint64_t(UINT32_MAX));
  EXPECT_EQ(KeyOf(1).created_by, 0u);  // the local operator
  wire::KeyRecord none{};
  EXPECT_EQ(engine_.GetKey(0, &none), Code::key_not_found);
  EXPECT_EQ(engine_.GetKey(4, &none), Code::key_not_found);

  // keys_full at api_key_count_max; a reused secret is still key_exists.
  EXPECT_EQ(Key(Role::kViewer, 0, 4), 4u);
  EXPECT_EQ(Key(Role::kViewer, 0, 5), 5u);
  EXPECT_EQ(Key(Role::kViewer, 0, 6), 6u);
  ASSERT_EQ(engine_.api_key_count(), config_.api_key_count_max);
  Refused(CreateKey(Role::kViewer, 0, 7), Code::keys_full);
  EXPECT_EQ(Refused(CreateKey(Role::kViewer, 0, 6), Code::key_exists).id, 6u);
}

TEST_F(AccessTest, RevokeRefusalsReplayAndTheLastOperatorKey) {
  const uint32_t op1 = Key(Role::kOperator, 0, 1);
  const uint32_t op2 = Key(Role::kOperator, 0, 2);
  const uint32_t viewer = Key(Role::kViewer, 0, 3);
  EXPECT_EQ(Refused(RevokeKey(0), Code::key_not_found).id, 0u);
  EXPECT_EQ(Refused(RevokeKey(4), Code::key_not_found).id, 4u);
  Refused(As(viewer, RevokeKey(op1)), Code::forbidden);  // operators only
  wire::Command reserved = RevokeKey(viewer);
  reserved.bytes[100] = 1;
  Refused(reserved, Code::reserved_nonzero);

  now_ = 5 * kSecond;
  const auto revoked = One(As(op2, RevokeKey(viewer)));
  ASSERT_EQ(revoked.code, Code::ok);
  EXPECT_EQ(revoked.at_us, now_);
  EXPECT_FALSE(wire::IsReplay(revoked));
  EXPECT_EQ(KeyOf(viewer).state, wire::KeyState::kRevoked);
  EXPECT_EQ(KeyOf(viewer).revoked_at_us, now_);
  EXPECT_EQ(KeyOf(viewer).revoked_by, op2);
  // Revoking it again is a replay: answered as the first, nothing changes.
  now_ = 6 * kSecond;
  const auto again = Refused(RevokeKey(viewer), Code::ok);
  EXPECT_TRUE(wire::IsReplay(again));
  EXPECT_EQ(again.at_us, 5 * kSecond);
  EXPECT_EQ(KeyOf(viewer).revoked_by, op2);

  // An operator key may revoke itself while another operator key is active; the last one
  // cannot be revoked (issuer 0 is not a key, so it does not count).
  Ok(As(op2, RevokeKey(op2)));
  Refused(As(op2, RevokeKey(op1)), Code::unauthenticated);  // op2 is revoked now
  Refused(RevokeKey(op1), Code::last_operator_key);
  Refused(As(op1, RevokeKey(op1)), Code::last_operator_key);
  EXPECT_EQ(KeyOf(op1).state, wire::KeyState::kActive);
}

TEST_F(AccessTest, ARevokedKeysCommandsAreUnauthenticatedFromItsRevocationOn) {
  Run({wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 500, 20, 0)});
  const uint32_t merchant = Key(Role::kMerchant, 1, 1);
  const uint32_t storefront = Key(Role::kStorefront, 3, 2);
  const uint32_t placed =
      uint32_t(One(As(storefront, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}}))).id);
  // In one batch: a restock before the revocation is applied, the one after is refused.
  const auto r =
      Run({As(merchant, wire::MakeRestock(10, 1)), RevokeKey(merchant),
           As(merchant, wire::MakeRestock(10, 1)), As(storefront, wire::MakeSetPrice(10, 1))});
  EXPECT_EQ(r[0].code, Code::ok);
  EXPECT_EQ(r[1].code, Code::ok);
  EXPECT_EQ(r[2].code, Code::unauthenticated);
  EXPECT_EQ(r[3].code, Code::forbidden);
  Ok(RevokeKey(storefront));
  Refused(As(merchant, wire::MakeSetPrice(10, 400)), Code::unauthenticated);
  Refused(As(merchant, wire::MakeCreateSku(11, 1, 500, 1, 0)), Code::unauthenticated);
  Refused(As(storefront, wire::MakePlaceOrder(2, 1, 7, 31, 3, {{10, 1}})), Code::unauthenticated);
  Refused(As(storefront, wire::MakePayOrder(placed, 500)), Code::unauthenticated);
  Refused(As(storefront, wire::MakeCancelOrder(placed)), Code::unauthenticated);
  // A retry of the order's own request, byte for byte, is refused too (no replay answer).
  Refused(As(storefront, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}})), Code::unauthenticated);
  // Unknown key ids likewise.
  Refused(As(99, wire::MakeRestock(10, 1)), Code::unauthenticated);
  Refused(As(UINT32_MAX, wire::MakePlaceOrder(3, 1, 7, 31, 3, {{10, 1}})), Code::unauthenticated);
  wire::SkuRecord sku{};
  ASSERT_EQ(engine_.GetSku(10, &sku), Code::ok);
  EXPECT_EQ(sku.received, 21u);
  EXPECT_EQ(sku.price_fen, 500);
}

TEST_F(AccessTest, CatalogBelongsToItsMerchant) {
  Run({wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateMerchant(2, "JP", 0),
       wire::MakeCreateSku(10, 1, 500, 20, 0), wire::MakeCreateSku(20, 2, 700, 20, 0),
       wire::MakeCreateDrop(900, 20, 600, 5, 10 * kSecond, 20 * kSecond, 0)});
  const uint32_t a = Key(Role::kMerchant, 1, 1);
  const uint32_t b = Key(Role::kMerchant, 2, 2);
  const uint32_t storefront = Key(Role::kStorefront, 1, 3);
  const uint32_t viewer = Key(Role::kViewer, 0, 4);
  // Merchant A on merchant B's SKU and drop.
  Refused(As(a, wire::MakeCreateSku(21, 2, 500, 1, 0)), Code::forbidden);
  Refused(As(a, wire::MakeRestock(20, 1)), Code::forbidden);
  Refused(As(a, wire::MakeSetPrice(20, 100)), Code::forbidden);
  Refused(As(a, wire::MakeCreateDrop(901, 20, 500, 1, 10 * kSecond, 20 * kSecond, 0)),
          Code::forbidden);
  Refused(As(a, wire::MakeCloseDrop(900)), Code::forbidden);
  // Other roles on any SKU; merchants are an operator's.
  for (uint32_t who : {storefront, viewer}) {
    Refused(As(who, wire::MakeRestock(10, 1)), Code::forbidden);
    Refused(As(who, wire::MakeSetPrice(10, 100)), Code::forbidden);
    Refused(As(who, wire::MakeCloseDrop(900)), Code::forbidden);
  }
  Refused(As(a, wire::MakeCreateMerchant(3, "CN", 0)), Code::forbidden);
  // Their own: allowed; an unknown SKU is the command's to name.
  Ok(As(a, wire::MakeCreateSku(11, 1, 500, 1, 0)));
  Ok(As(a, wire::MakeRestock(10, 1)));
  Ok(As(a, wire::MakeSetPrice(10, 450)));
  Ok(As(a, wire::MakeCreateDrop(901, 10, 400, 5, 10 * kSecond, 20 * kSecond, 0)));
  Ok(As(a, wire::MakeCloseDrop(901)));
  Ok(As(b, wire::MakeCloseDrop(900)));
  Refused(As(a, wire::MakeRestock(99, 1)), Code::sku_not_found);
}

TEST_F(AccessTest, OnlyOperatorsAndStorefrontsPlaceAndAStorefrontActsOnItsOwnOrders) {
  Run({wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 500, 20, 0)});
  const uint32_t shop_a = Key(Role::kStorefront, 1, 1);
  const uint32_t shop_b = Key(Role::kStorefront, 2, 2);
  const uint32_t shop_a2 = Key(Role::kStorefront, 1, 3);  // a second key of storefront 1
  const uint32_t merchant = Key(Role::kMerchant, 1, 4);
  const uint32_t viewer = Key(Role::kViewer, 0, 5);
  Refused(As(merchant, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}})), Code::forbidden);
  Refused(As(viewer, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}})), Code::forbidden);
  const uint64_t a1 = One(As(shop_a, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}}))).id;
  const uint64_t a2 = One(As(shop_a, wire::MakePlaceOrder(2, 1, 7, 31, 3, {{10, 1}}))).id;
  const uint64_t op = One(wire::MakePlaceOrder(3, 1, 7, 31, 3, {{10, 1}})).id;
  ASSERT_TRUE(a1 != 0 && a2 != 0 && op != 0);
  // The same request under the same key from another storefront is another request.
  Refused(As(shop_b, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}})),
          Code::idempotency_key_reused);
  const auto retry = One(As(shop_a2, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}})));
  EXPECT_TRUE(wire::IsReplay(retry));
  EXPECT_EQ(retry.id, a1);
  // Storefront B on storefront A's orders, and on an operator's; merchants and viewers too.
  for (uint32_t who : {shop_b, merchant, viewer}) {
    Refused(As(who, wire::MakePayOrder(a1, 500)), Code::forbidden);
    Refused(As(who, wire::MakeCancelOrder(a1)), Code::forbidden);
  }
  Refused(As(shop_a, wire::MakePayOrder(op, 500)), Code::forbidden);
  Refused(As(shop_a, wire::MakeCancelOrder(op)), Code::forbidden);
  // Any key of storefront A may.
  Ok(As(shop_a2, wire::MakePayOrder(a1, 500)));
  Ok(As(shop_a, wire::MakeCancelOrder(a2)));
  Ok(wire::MakeCancelOrder(op));
  Refused(As(shop_a, wire::MakePayOrder(999, 500)), Code::order_not_found);
}

TEST_F(AccessTest, SnapshotKeepsKeys) {
  Run({wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateSku(10, 1, 500, 20, 0)});
  const uint32_t merchant = Key(Role::kMerchant, 1, 1);
  const uint32_t storefront = Key(Role::kStorefront, 5, 2);
  Key(Role::kOperator, 0, 3);
  Ok(RevokeKey(storefront));
  Engine::SnapshotParts parts;
  engine_.SnapshotChunks(&parts);
  std::vector<std::byte> state;
  for (ByteSpan c : parts.chunks) state.insert(state.end(), c.begin(), c.end());
  Engine restored(config_);
  ASSERT_TRUE(restored.Restore(state).ok());
  EXPECT_EQ(restored.Digest(), engine_.Digest());
  ASSERT_EQ(restored.api_key_count(), 3u);
  for (uint32_t id = 1; id <= 3; id++) {
    wire::KeyRecord a{}, b{};
    ASSERT_EQ(restored.GetKey(id, &a), Code::ok);
    ASSERT_EQ(engine_.GetKey(id, &b), Code::ok);
    EXPECT_EQ(0, std::memcmp(&a, &b, sizeof(a)));
    EXPECT_EQ(0, std::memcmp(restored.api_key(id).secret_sha256, engine_.api_key(id).secret_sha256,
                             wire::kSecretHashSize));
  }
  // Both go on alike: the merchant key works, the revoked one does not, a reused hash is
  // refused, the next key id is 4.
  const std::vector<wire::Command> next{
      As(merchant, wire::MakeRestock(10, 1)),
      As(storefront, wire::MakePlaceOrder(1, 1, 7, 31, 3, {{10, 1}})),
      CreateKey(Role::kViewer, 0, 1), CreateKey(Role::kViewer, 0, 4)};
  std::vector<wire::Result> ra(next.size()), rb(next.size());
  ASSERT_EQ(engine_.Apply(engine_.last_op() + 1, 9 * kSecond, next, ra), BatchError::kNone);
  ASSERT_EQ(restored.Apply(restored.last_op() + 1, 9 * kSecond, next, rb), BatchError::kNone);
  EXPECT_EQ(0, std::memcmp(ra.data(), rb.data(), sizeof(wire::Result) * next.size()));
  EXPECT_EQ(rb[0].code, Code::ok);
  EXPECT_EQ(rb[1].code, Code::unauthenticated);
  EXPECT_EQ(rb[2].code, Code::key_exists);
  EXPECT_EQ(rb[3].id, 4u);
  EXPECT_EQ(restored.Digest(), engine_.Digest());
  // A state from an engine with room for another number of keys is refused.
  EngineConfig other = config_;
  other.api_key_count_max += 1;
  Engine wrong(other);
  EXPECT_EQ(wrong.Restore(state).code(), StatusCode::kInvalidArgument);
}

// With the ledger and fulfilment on: merchants 1 and 2 (SKUs 10 and 20, in warehouses 100 and
// 101), couriers 7 (regions 1..11) and 8 (regions 12..20), and a key for each principal.
class ModulesAccessTest : public AccessTest {
 protected:
  ModulesAccessTest() : AccessTest(WithModules()) {
    const auto r =
        Run({wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateMerchant(2, "JP", 0),
             wire::MakeCreateSku(10, 1, 5000, 50, 0), wire::MakeCreateSku(20, 2, 3000, 50, 0),
             testing::WarehouseCommand(100, 11, 0, 0, 100, 1000),
             testing::WarehouseCommand(101, 11, 0, 0, 100, 1000),
             testing::StockCommand(100, 10, 50), testing::StockCommand(101, 20, 50),
             testing::CourierCommand(7, "ZTO", wire::CourierMode::kExpress, 2, 100, 500, 1'000'000,
                                     1000),
             testing::CourierCommand(8, "YTO", wire::CourierMode::kExpress, 2, 100, 500, 2'000'000,
                                     1000),
             testing::CoverageCommand(7, 0, 1, 11), testing::CoverageCommand(8, 0, 12, 20)});
    for (const auto& x : r) EXPECT_EQ(x.code, Code::ok) << wire::CodeName(x.code);
    shop_a_ = Key(Role::kStorefront, 1, 1);
    shop_b_ = Key(Role::kStorefront, 2, 2);
    merchant_1_ = Key(Role::kMerchant, 1, 3);
    merchant_2_ = Key(Role::kMerchant, 2, 4);
    courier_7_ = Key(Role::kCourier, 7, 5);
    courier_8_ = Key(Role::kCourier, 8, 6);
    viewer_ = Key(Role::kViewer, 0, 7);
  }

  // An order of one unit of `sku` placed by `issuer`; returns its id.
  uint64_t Place(uint32_t issuer, uint64_t merchant, uint64_t sku, uint64_t buyer,
                 uint16_t region = 11) {
    const auto r =
        One(As(issuer, wire::MakePlaceOrder(next_key_++, merchant, buyer, region, 3, {{sku, 1}})));
    EXPECT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
    return r.id;
  }
  wire::Command Pay(uint64_t order_id, PaymentMethod method, uint8_t periods = 0) {
    wire::OrderRecord order{};
    EXPECT_EQ(engine_.GetOrder(order_id, &order), Code::ok);
    return wire::MakePayOrder(order_id, order.total_fen, uint8_t(method), periods);
  }
  wire::ParcelRecord Parcel(uint64_t order_id) {
    wire::ShipmentRecord shipment{};
    EXPECT_EQ(engine_.fulfilment()->QueryShipment(order_id, &shipment), Code::ok);
    EXPECT_EQ(shipment.parcel_count, 1u);
    wire::ParcelRecord parcel{};
    EXPECT_EQ(engine_.fulfilment()->QueryParcel(shipment.waybill[0], &parcel), Code::ok);
    return parcel;
  }
  wire::OrderState StateOf(uint64_t order_id) {
    wire::OrderRecord order{};
    EXPECT_EQ(engine_.GetOrder(order_id, &order), Code::ok);
    return order.state;
  }
  // Carries order_id's parcel to delivered, as its courier.
  void Deliver(uint64_t order_id, uint32_t courier) {
    const uint64_t waybill = Parcel(order_id).waybill;
    using wire::ParcelState;
    for (ParcelState e : {ParcelState::kPicked, ParcelState::kPacked, ParcelState::kHandedToCourier,
                          ParcelState::kDepartedHub, ParcelState::kArrivedHub,
                          ParcelState::kOutForDelivery, ParcelState::kDelivered}) {
      Ok(As(courier, testing::TrackCommand(waybill, e)));
    }
  }

  uint32_t shop_a_ = 0, shop_b_ = 0, merchant_1_ = 0, merchant_2_ = 0, courier_7_ = 0,
           courier_8_ = 0, viewer_ = 0;
  uint64_t next_key_ = 100;
};

TEST_F(ModulesAccessTest, ACourierTracksOnlyItsOwnParcels) {
  const uint64_t to_7 = Place(shop_a_, 1, 10, 42, 11);
  const uint64_t to_8 = Place(shop_a_, 1, 10, 42, 12);
  Ok(As(shop_a_, Pay(to_7, PaymentMethod::kCard)));
  Ok(As(shop_a_, Pay(to_8, PaymentMethod::kCard)));
  const wire::ParcelRecord parcel_7 = Parcel(to_7), parcel_8 = Parcel(to_8);
  ASSERT_EQ(parcel_7.courier_id, 7u);
  ASSERT_EQ(parcel_8.courier_id, 8u);
  using wire::ParcelState;
  Refused(As(courier_7_, testing::TrackCommand(parcel_8.waybill, ParcelState::kPicked)),
          Code::forbidden);
  Refused(As(courier_8_, testing::TrackCommand(parcel_7.waybill, ParcelState::kPicked)),
          Code::forbidden);
  for (uint32_t who : {shop_a_, merchant_1_, viewer_}) {
    Refused(As(who, testing::TrackCommand(parcel_7.waybill, ParcelState::kPicked)),
            Code::forbidden);
  }
  Ok(As(courier_7_, testing::TrackCommand(parcel_7.waybill, ParcelState::kPicked)));
  Ok(As(courier_8_, testing::TrackCommand(parcel_8.waybill, ParcelState::kPicked)));
  // Couriers, warehouses and coverage are an operator's.
  Refused(As(courier_7_, testing::CoverageCommand(7, 0, 1, 20)), Code::forbidden);
  Refused(As(merchant_1_, testing::WarehouseCommand(102, 11, 0, 0, 1, 1)), Code::forbidden);
  // A courier key needs a courier that exists.
  Refused(CreateKey(Role::kCourier, 9, 20), Code::courier_not_found);
}

TEST_F(ModulesAccessTest, AStorefrontPaysOnlyItsOwnOrders) {
  Ok(testing::PartyCmd(wire::kDeposit, 1, 42, 100'000));
  const uint64_t order = Place(shop_a_, 1, 10, 42);
  Refused(As(shop_b_, Pay(order, PaymentMethod::kBalance)), Code::forbidden);
  Refused(As(shop_b_, Pay(order, PaymentMethod::kCard)), Code::forbidden);
  Refused(As(shop_b_, wire::MakeCancelOrder(order)), Code::forbidden);
  Refused(As(merchant_1_, Pay(order, PaymentMethod::kCard)), Code::forbidden);
  EXPECT_EQ(StateOf(order), wire::OrderState::kPending);
  Ok(As(shop_a_, Pay(order, PaymentMethod::kBalance)));
  // After payment: confirming delivery and after-sales are its storefront's and merchant's.
  Refused(As(shop_b_, testing::OrderCmd(wire::kConfirmDelivery, order)), Code::forbidden);
  Refused(As(shop_b_, testing::RepayCmd(5, order, 0)), Code::forbidden);
  // Deposits and credit limits are an operator's.
  Refused(As(shop_a_, testing::PartyCmd(wire::kDeposit, 2, 42, 100)), Code::forbidden);
  Refused(As(shop_a_, testing::SetBuyerLimitCmd(42, 100)), Code::forbidden);
}

TEST_F(ModulesAccessTest, ABuyersWalletAndCreditServeTheFirstStorefrontThatSpendsThem) {
  Ok(testing::PartyCmd(wire::kDeposit, 1, 7, 100'000));
  Ok(testing::SetBuyerLimitCmd(7, 100'000));
  // Storefront A pays buyer 7's order from the wallet: the buyer is A's from now on.
  const uint64_t first = Place(shop_a_, 1, 10, 7);
  Ok(As(shop_a_, Pay(first, PaymentMethod::kBalance)));
  // Storefront B's order for buyer 7: not from the wallet, not on credit; by card it may.
  const uint64_t other = Place(shop_b_, 1, 10, 7);
  Refused(As(shop_b_, Pay(other, PaymentMethod::kBalance)), Code::forbidden);
  Refused(As(shop_b_, Pay(other, PaymentMethod::kInstalmentBuyerFee, 3)), Code::forbidden);
  EXPECT_EQ(StateOf(other), wire::OrderState::kPending);
  Ok(As(shop_b_, Pay(other, PaymentMethod::kCard)));
  // Storefront A still may.
  const uint64_t again = Place(shop_a_, 2, 20, 7);
  Ok(As(shop_a_, Pay(again, PaymentMethod::kInstalmentBuyerFee, 3)));
  // An operator's order is no storefront's: the binding does not stop it.
  const uint64_t by_operator = Place(0, 1, 10, 7);
  Ok(Pay(by_operator, PaymentMethod::kBalance));

  // A card payment binds nothing: buyer 8 paid by card at A, then B spends the wallet first.
  Ok(testing::PartyCmd(wire::kDeposit, 2, 8, 100'000));
  const uint64_t card = Place(shop_a_, 1, 10, 8);
  Ok(As(shop_a_, Pay(card, PaymentMethod::kCard)));
  const uint64_t b_first = Place(shop_b_, 1, 10, 8);
  Ok(As(shop_b_, Pay(b_first, PaymentMethod::kBalance)));
  const uint64_t a_late = Place(shop_a_, 1, 10, 8);
  Refused(As(shop_a_, Pay(a_late, PaymentMethod::kBalance)), Code::forbidden);
  // A refused payment that would have bound the buyer binds nothing: buyer 9's wallet is
  // empty, so A's balance payment fails, and B may still spend it after a deposit.
  const uint64_t empty = Place(shop_a_, 1, 10, 9);
  Refused(As(shop_a_, Pay(empty, PaymentMethod::kBalance)), Code::exceeds_credits);
  Ok(testing::PartyCmd(wire::kDeposit, 3, 9, 100'000));
  const uint64_t b_nine = Place(shop_b_, 1, 10, 9);
  Ok(As(shop_b_, Pay(b_nine, PaymentMethod::kBalance)));

  // The binding is state: a restored engine refuses what this one refuses.
  Engine::SnapshotParts parts;
  engine_.SnapshotChunks(&parts);
  std::vector<std::byte> state;
  for (ByteSpan c : parts.chunks) state.insert(state.end(), c.begin(), c.end());
  Engine restored(config_);
  ASSERT_TRUE(restored.Restore(state).ok());
  EXPECT_EQ(restored.Digest(), engine_.Digest());
  const uint64_t late = b_nine + 1;  // the next order id
  const std::vector<wire::Command> next{
      As(shop_b_, wire::MakePlaceOrder(999, 1, 7, 11, 3, {{10, 1}})),
      As(shop_b_, wire::MakePayOrder(late, 5000, uint8_t(PaymentMethod::kBalance)))};
  std::vector<wire::Result> ra(next.size()), rb(next.size());
  ASSERT_EQ(engine_.Apply(engine_.last_op() + 1, now_, next, ra), BatchError::kNone);
  ASSERT_EQ(restored.Apply(restored.last_op() + 1, now_, next, rb), BatchError::kNone);
  EXPECT_EQ(ra[0].id, late);
  EXPECT_EQ(rb[1].code, Code::forbidden);
  EXPECT_EQ(0, std::memcmp(ra.data(), rb.data(), sizeof(wire::Result) * next.size()));
  EXPECT_EQ(restored.Digest(), engine_.Digest());
}

TEST_F(ModulesAccessTest, AMerchantMovesOnlyItsOwnMoneyAndRefundsOnlyItsOwnOrders) {
  const uint64_t order = Place(shop_a_, 1, 10, 42);
  Ok(As(shop_a_, Pay(order, PaymentMethod::kCard)));
  Refused(As(merchant_2_, AfterSales(900, order, 100)), Code::forbidden);  // not yet settled either
  Deliver(order, courier_7_);
  ASSERT_EQ(StateOf(order), wire::OrderState::kDelivered);
  // Merchant 1's wallet holds the settlement now.
  Refused(As(merchant_2_, testing::PartyCmd(wire::kWithdraw, 1, 1, 100)), Code::forbidden);
  Refused(As(merchant_2_, testing::PartyCmd(wire::kDrawDown, 2, 1, 100)), Code::forbidden);
  Refused(As(merchant_2_, testing::PartyCmd(wire::kRepayMerchantCredit, 3, 1, 100)),
          Code::forbidden);
  Refused(As(shop_a_, testing::PartyCmd(wire::kWithdraw, 1, 1, 100)), Code::forbidden);
  Refused(As(merchant_1_, testing::SetLineCmd(1, 100'000, 0)), Code::forbidden);  // an operator's
  Ok(As(merchant_1_, testing::PartyCmd(wire::kWithdraw, 1, 1, 100)));
  // In a run of ledger commands, each is checked on its own: one refused, the others applied.
  const auto run = Run({As(merchant_1_, testing::PartyCmd(wire::kWithdraw, 4, 1, 100)),
                        As(merchant_2_, testing::PartyCmd(wire::kWithdraw, 5, 1, 100)),
                        As(merchant_1_, testing::PartyCmd(wire::kWithdraw, 6, 1, 100)),
                        As(merchant_1_, testing::PartyCmd(wire::kDeposit, 7, 42, 100))});
  EXPECT_EQ(run[0].code, Code::ok);
  EXPECT_EQ(run[1].code, Code::forbidden);
  EXPECT_EQ(run[2].code, Code::ok);
  EXPECT_EQ(run[3].code, Code::forbidden);
  // After-sales refunds: the order's merchant only.
  Refused(As(merchant_2_, AfterSales(900, order, 100)), Code::forbidden);
  Refused(As(shop_a_, AfterSales(900, order, 100)), Code::forbidden);
  Ok(As(merchant_1_, AfterSales(900, order, 100)));
  // Warehouse stock of its own SKUs only.
  Refused(As(merchant_2_, testing::StockCommand(100, 10, 1)), Code::forbidden);
  Ok(As(merchant_1_, testing::StockCommand(100, 10, 1)));
  // The raw ledger is an operator's.
  Refused(As(merchant_1_, testing::CreateAccountCmd(77)), Code::forbidden);
}

}  // namespace
}  // namespace eleven::engine
