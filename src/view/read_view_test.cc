#include "view/read_view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "base/test_seed.h"
#include "wire/make.h"

namespace eleven::view {
namespace {

using wire::Code;
constexpr uint64_t kSecond = 1'000'000;

engine::EngineConfig SmallConfig() {
  engine::EngineConfig config;
  config.merchant_count_max = 8;
  config.sku_count_max = 64;
  config.drop_count_max = 8;
  config.order_slot_count = 16;
  config.holding_count_max = 16;
  config.pay_window_us = 600 * kSecond;
  config.batch_command_count_max = 64;
  return config;
}

// An engine and a view that follows it as the snapshot follower would: each batch applied
// under the view's lock, then indexed.
class ReadViewTest : public ::testing::Test {
 protected:
  ReadViewTest() : engine_(SmallConfig()), view_(SmallConfig()) {
    view_.Attach(&engine_);
    Run({wire::MakeCreateMerchant(1, "CN", 0), wire::MakeCreateMerchant(2, "JP", 0),
         wire::MakeCreateSku(12, 1, 100, 1000, 0), wire::MakeCreateSku(10, 1, 100, 1000, 0),
         wire::MakeCreateSku(11, 1, 100, 1000, 0), wire::MakeCreateSku(20, 2, 100, 1000, 0)});
  }

  std::vector<wire::Result> Run(std::vector<wire::Command> commands) {
    std::vector<wire::Result> results(commands.size());
    now_us_ += kSecond;
    const auto lock = view_.LockForApply();
    EXPECT_EQ(engine_.Apply(engine_.last_op() + 1, now_us_, commands, results), engine::BatchError::kNone);
    view_.Applied(commands);
    return results;
  }
  uint64_t Place(uint64_t merchant, uint64_t buyer, uint64_t sku) {
    const auto r = Run({wire::MakePlaceOrder(next_key_++, merchant, buyer, 3, 1, {{sku, 1}})})[0];
    EXPECT_EQ(r.code, Code::ok) << wire::CodeName(r.code);
    return r.id;
  }
  // Every page of a list, following the cursors; the ids in order.
  std::vector<uint64_t> All(ListRequest r, bool* truncated = nullptr) {
    std::vector<uint64_t> ids;
    for (int pages = 0; pages < 100; pages++) {
      const ListPage page = view_.List(r);
      EXPECT_EQ(page.code, Code::ok);
      EXPECT_EQ(page.op, engine_.last_op());
      for (const auto& o : page.orders) ids.push_back(o.order_id);
      for (const auto& s : page.skus) ids.push_back(s.sku_id);
      for (const auto& d : page.drops) ids.push_back(d.drop_id);
      if (truncated != nullptr) *truncated = page.truncated;
      if (page.next == 0) return ids;
      r.after = page.next;
    }
    ADD_FAILURE() << "more than 100 pages";
    return ids;
  }

  engine::Engine engine_;
  ReadView view_;
  uint64_t now_us_ = 0;
  uint64_t next_key_ = 1;
};

TEST_F(ReadViewTest, OrdersAreListedNewestFirstPageByPageWithTheirStateFilter) {
  std::vector<uint64_t> buyer7, merchant1;  // newest first
  for (int i = 0; i < 5; i++) {
    const uint64_t a = Place(1, 7, 10);
    const uint64_t b = Place(1, 8, 11);
    const uint64_t c = Place(2, 7, 20);  // buyer 7 at another merchant
    buyer7.insert(buyer7.begin(), {c, a});
    merchant1.insert(merchant1.begin(), {b, a});
  }
  ListRequest r{.kind = ListKind::kBuyerOrders, .owner = 7, .limit = 3};
  EXPECT_EQ(All(r), buyer7);
  r = ListRequest{.kind = ListKind::kMerchantOrders, .owner = 1, .limit = 4};
  EXPECT_EQ(All(r), merchant1);
  // Pay two of merchant 1's: the paid filter finds exactly those, across pages.
  for (uint64_t id : {merchant1[1], merchant1[6]}) {
    wire::OrderRecord o;
    ASSERT_EQ(engine_.GetOrder(id, &o), Code::ok);
    ASSERT_EQ(Run({wire::MakePayOrder(id, o.total_fen)})[0].code, Code::ok);
  }
  r.filter = static_cast<uint8_t>(wire::OrderState::kPaid);
  r.limit = 1;
  EXPECT_EQ(All(r), (std::vector<uint64_t>{merchant1[1], merchant1[6]}));
  // A storefront's or another merchant's narrowing (RestrictToCaller) filters items.
  r = ListRequest{.kind = ListKind::kBuyerOrders, .owner = 7, .limit = 100, .merchant = 2};
  EXPECT_EQ(All(r).size(), 5u);
  EXPECT_EQ(view_.List(ListRequest{.kind = ListKind::kMerchantOrders, .owner = 9}).code, Code::merchant_not_found);
  EXPECT_TRUE(All(ListRequest{.kind = ListKind::kBuyerOrders, .owner = 99}).empty());
}

TEST_F(ReadViewTest, AChainEndsTruncatedWhereTheRingDroppedOrdersAndHeadsGoWithThem) {
  const uint64_t first = Place(1, 7, 10);
  wire::OrderRecord o;
  ASSERT_EQ(engine_.GetOrder(first, &o), Code::ok);
  ASSERT_EQ(Run({wire::MakePayOrder(first, o.total_fen)})[0].code, Code::ok);  // final: its slot can go
  // 16 slots: buyer 8's 16 orders push buyer 7's out (each paid, so its slot is reusable).
  for (int i = 0; i < 16; i++) {
    const uint64_t id = Place(1, 8, 11);
    ASSERT_EQ(engine_.GetOrder(id, &o), Code::ok);
    ASSERT_EQ(Run({wire::MakePayOrder(id, o.total_fen)})[0].code, Code::ok);
  }
  EXPECT_TRUE(All(ListRequest{.kind = ListKind::kBuyerOrders, .owner = 7}).empty());
  bool truncated = false;
  EXPECT_EQ(All(ListRequest{.kind = ListKind::kMerchantOrders, .owner = 1, .limit = 100}, &truncated).size(), 16u);
  // The 17th order of merchant 1 left memory: the list says it is cut short, not complete.
  EXPECT_TRUE(truncated);
  // A cursor into the part that left memory ends the list, truncated.
  const ListPage stale = view_.List(ListRequest{.kind = ListKind::kMerchantOrders, .owner = 1, .after = first});
  EXPECT_TRUE(stale.orders.empty());
  EXPECT_TRUE(stale.truncated);
}

TEST_F(ReadViewTest, SkusAndDropsAreListedNewestFirst) {
  EXPECT_EQ(All(ListRequest{.kind = ListKind::kMerchantSkus, .owner = 1, .limit = 2}),
            (std::vector<uint64_t>{12, 11, 10}));
  EXPECT_EQ(All(ListRequest{.kind = ListKind::kMerchantSkus, .owner = 2}), (std::vector<uint64_t>{20}));
  ASSERT_EQ(Run({wire::MakeCreateSku(30, 2, 100, 10, 0)})[0].code, Code::ok);
  EXPECT_EQ(All(ListRequest{.kind = ListKind::kMerchantSkus, .owner = 2}), (std::vector<uint64_t>{30, 20}));
  const uint64_t t = now_us_;
  for (const wire::Result& created : Run({wire::MakeCreateDrop(501, 10, 50, 5, t, t + 100 * kSecond, 0),
                                          wire::MakeCreateDrop(502, 11, 50, 5, t + 50 * kSecond, t + 100 * kSecond, 0),
                                          wire::MakeCreateDrop(503, 12, 50, 5, t, t + 100 * kSecond, 0)})) {
    ASSERT_EQ(created.code, Code::ok) << wire::CodeName(created.code);
  }
  EXPECT_EQ(All(ListRequest{.kind = ListKind::kDrops, .limit = 2}), (std::vector<uint64_t>{503, 502, 501}));
  const uint8_t open = static_cast<uint8_t>(wire::DropState::kOpen);
  EXPECT_EQ(All(ListRequest{.kind = ListKind::kDrops, .filter = open, .limit = 1}), (std::vector<uint64_t>{503, 501}));
}

// A view attached to a state indexes it whole, and answers as the view that followed every
// entry does: what a follower that loads a snapshot serves.
TEST_F(ReadViewTest, AttachingToAStateIndexesItAsFollowingItDid) {
  const uint64_t seed = TestSeed("ReadViewTest.AttachingToAStateIndexesItAsFollowingItDid");
  std::mt19937_64 random(seed);
  for (int i = 0; i < 40; i++) {
    const uint64_t buyer = 1 + random() % 4;
    const uint64_t merchant = 1 + random() % 2;
    const uint64_t id = Place(merchant, buyer, merchant == 1 ? 10 + random() % 3 : 20);
    wire::OrderRecord o;
    ASSERT_EQ(engine_.GetOrder(id, &o), Code::ok);
    // Paid or cancelled: final either way, so the ring (16 slots) can take the next ones.
    const auto done = random() % 4 != 0 ? wire::MakePayOrder(id, o.total_fen) : wire::MakeCancelOrder(id);
    ASSERT_EQ(Run({done})[0].code, Code::ok);
  }
  ReadView fresh(SmallConfig());
  fresh.Attach(&engine_);
  for (uint64_t owner = 1; owner <= 4; owner++) {
    for (ListKind kind : {ListKind::kBuyerOrders, ListKind::kMerchantOrders, ListKind::kMerchantSkus}) {
      ListRequest r{.kind = kind, .owner = owner, .limit = 100};
      const ListPage followed = view_.List(r);
      const ListPage attached = fresh.List(r);
      ASSERT_EQ(followed.code, attached.code);
      ASSERT_EQ(followed.orders.size(), attached.orders.size()) << int(kind) << " " << owner;
      for (size_t i = 0; i < followed.orders.size(); i++) {
        EXPECT_EQ(followed.orders[i].order_id, attached.orders[i].order_id);
      }
      EXPECT_EQ(followed.skus.size(), attached.skus.size());
    }
  }
}

}  // namespace
}  // namespace eleven::view
