// The engine's state as bytes, for snapshots: a fixed head record, then every table as it
// lies in memory. The records have no padding (engine_state.h), so the bytes are the state.
// The format is versioned; docs/storage-format.md describes where it sits in a snapshot.
#include <cstring>

#include "base/assert.h"
#include "engine/engine.h"
#include "engine/engine_state.h"
#include "engine/state_reader.h"

namespace eleven::engine {

namespace {

constexpr uint32_t kStateMagic = 0x54534C45;  // "ELST"
// 2: SKU rows in their hash slots (FixedTable); 3: the key index in 8-byte slots (KeyIndex);
// 4: SKU rows placed by multiplicative (Fibonacci) hashing of the id, not the splitmix one;
// 5: every order slot keeps its request's fingerprint (idempotency keys reused with another
// request are refused); 6: API keys (docs/access.md), and an accepted order keeps its
// storefront where a rejected one keeps its fingerprint; 7: the sales figures (EngineSales,
// then one SalesFigures per drop); 8: coupons, their claims and the orders that redeemed them,
// pre-sales and their deposits (docs/promotions.md); 9: claims and deposits in KeyIndexes,
// and the filter of the keys the order ring evicted (docs/archive.md).
constexpr uint32_t kStateVersion = 9;

struct StateHead {
  uint32_t magic;
  uint32_t version;
  // The configuration: a snapshot restores only into an engine configured the same.
  uint32_t merchant_count_max;
  uint32_t sku_count_max;
  uint32_t drop_count_max;
  uint32_t order_slot_count;
  uint32_t holding_count_max;
  uint32_t batch_command_count_max;
  uint64_t pay_window_us;
  // Where the state is.
  uint64_t last_op;
  uint64_t last_timestamp_us;
  EngineStats stats;
  uint32_t merchant_count;
  uint32_t sku_count;
  uint32_t drop_count;
  uint32_t close_heap_count;
  uint64_t next_order_id;
  uint64_t expiry_cursor;
  uint32_t key_count;
  uint32_t holding_count;
  uint32_t api_key_count_max;
  uint32_t api_key_count;
  uint32_t coupon_count_max;
  uint32_t coupon_claim_count_max;
  uint32_t coupon_order_count_max;
  uint32_t coupon_count;
  uint32_t claim_count;
  uint32_t coupon_order_head;
  uint32_t coupon_order_count;
  uint32_t presale_count_max;
  uint32_t deposit_count_max;
  uint32_t presale_count;
  uint32_t deposit_count;
  uint32_t reserved1;
  uint64_t evicted_key_count_max;
  uint64_t evicted_key_count;  // inserts made into the filter
  // The modules' parts follow the engine's tables (0 bytes when a module is off).
  uint64_t ledger_bytes;
  uint64_t fulfilment_bytes;
  uint8_t ledger_enabled;
  uint8_t fulfilment_enabled;
  uint8_t reserved[6];
};
static_assert(std::has_unique_object_representations_v<StateHead>);

}  // namespace

void Engine::SnapshotChunks(SnapshotParts* parts) const {
  // The modules first: the engine's head records how many bytes each takes.
  std::vector<ByteSpan> ledger_chunks, fulfilment_chunks;
  if (ledger_) ledger_->SnapshotChunks(&parts->ledger_head, &ledger_chunks);
  if (fulfilment_) fulfilment_->SnapshotChunks(&parts->fulfilment_head, &fulfilment_chunks);
  auto total = [](const std::vector<ByteSpan>& chunks) {
    uint64_t bytes = 0;
    for (ByteSpan c : chunks) bytes += c.size();
    return bytes;
  };
  StateHead h{};
  h.ledger_bytes = total(ledger_chunks);
  h.fulfilment_bytes = total(fulfilment_chunks);
  h.ledger_enabled = ledger_ != nullptr;
  h.fulfilment_enabled = fulfilment_ != nullptr;
  h.magic = kStateMagic;
  h.version = kStateVersion;
  h.merchant_count_max = config_.merchant_count_max;
  h.sku_count_max = config_.sku_count_max;
  h.drop_count_max = config_.drop_count_max;
  h.order_slot_count = config_.order_slot_count;
  h.holding_count_max = config_.holding_count_max;
  h.batch_command_count_max = config_.batch_command_count_max;
  h.pay_window_us = config_.pay_window_us;
  h.last_op = last_op_;
  h.last_timestamp_us = last_timestamp_us_;
  h.stats = stats_;
  h.merchant_count = merchant_count_;
  h.sku_count = skus_.count();
  h.drop_count = drop_count_;
  h.close_heap_count = close_heap_count_;
  h.next_order_id = next_order_id_;
  h.expiry_cursor = expiry_cursor_;
  h.key_count = key_index_.count();
  h.holding_count = holdings_.count();
  h.api_key_count_max = config_.api_key_count_max;
  h.api_key_count = api_key_count_;
  h.coupon_count_max = config_.coupon_count_max;
  h.coupon_claim_count_max = config_.coupon_claim_count_max;
  h.coupon_order_count_max = config_.coupon_order_count_max;
  h.coupon_count = coupon_count_;
  h.claim_count = claim_count_;
  h.coupon_order_head = coupon_order_head_;
  h.coupon_order_count = coupon_order_count_;
  h.presale_count_max = config_.presale_count_max;
  h.deposit_count_max = config_.deposit_count_max;
  h.presale_count = presale_count_;
  h.deposit_count = deposit_count_;
  h.evicted_key_count_max = config_.evicted_key_count_max;
  h.evicted_key_count = evicted_keys_.count();
  std::vector<std::byte>* head = &parts->engine_head;
  std::vector<ByteSpan>* chunks = &parts->chunks;
  head->resize(sizeof(h));
  std::memcpy(head->data(), &h, sizeof(h));

  chunks->clear();
  chunks->push_back(Bytes(head->data(), head->size()));
  chunks->push_back(Bytes(merchants_.get(), sizeof(Merchant) * merchant_count_));
  chunks->push_back(Bytes(skus_.rows(), skus_.slot_bytes()));
  chunks->push_back(Bytes(drops_.get(), sizeof(Drop) * drop_count_));
  chunks->push_back(Bytes(sales_.get(), sizeof(EngineSales)));
  chunks->push_back(Bytes(drop_sales_.get(), sizeof(SalesFigures) * drop_count_));
  chunks->push_back(Bytes(close_heap_.get(), sizeof(uint32_t) * close_heap_count_));
  chunks->push_back(Bytes(orders_.get(), sizeof(Order) * config_.order_slot_count));
  chunks->push_back(Bytes(merchant_index_.slots(), merchant_index_.slot_bytes()));
  chunks->push_back(Bytes(drop_index_.slots(), drop_index_.slot_bytes()));
  chunks->push_back(Bytes(key_index_.slots(), key_index_.slot_bytes()));
  chunks->push_back(Bytes(evicted_keys_.blocks(), evicted_keys_.bytes()));
  chunks->push_back(Bytes(holdings_.slots(), holdings_.slot_bytes()));
  chunks->push_back(Bytes(api_keys_.get(), sizeof(ApiKeyRow) * api_key_count_));
  chunks->push_back(Bytes(coupons_.get(), sizeof(CouponRow) * coupon_count_));
  chunks->push_back(Bytes(coupon_index_.slots(), coupon_index_.slot_bytes()));
  chunks->push_back(Bytes(claims_.get(), sizeof(ClaimRow) * claim_count_));
  chunks->push_back(Bytes(claim_index_.slots(), claim_index_.slot_bytes()));
  chunks->push_back(Bytes(coupon_orders_.get(), sizeof(CouponOrderRow) * config_.coupon_order_count_max));
  chunks->push_back(Bytes(presales_.get(), sizeof(PresaleRow) * presale_count_));
  chunks->push_back(Bytes(presale_index_.slots(), presale_index_.slot_bytes()));
  chunks->push_back(Bytes(deposits_.get(), sizeof(DepositRow) * deposit_count_));
  chunks->push_back(Bytes(deposit_index_.slots(), deposit_index_.slot_bytes()));
  chunks->insert(chunks->end(), ledger_chunks.begin(), ledger_chunks.end());
  chunks->insert(chunks->end(), fulfilment_chunks.begin(), fulfilment_chunks.end());
}

Status Engine::Restore(ByteSpan state) {
  ELEVEN_ASSERT(last_op_ == 0);  // only into a fresh engine
  StateHead h{};
  if (state.size() < sizeof(h)) return Status::Corruption("engine state shorter than its head");
  std::memcpy(&h, state.data(), sizeof(h));
  if (h.magic != kStateMagic || h.version != kStateVersion) {
    return Status::Corruption("engine state: bad magic or unknown version " + std::to_string(h.version));
  }
  if (h.merchant_count_max != config_.merchant_count_max || h.sku_count_max != config_.sku_count_max ||
      h.drop_count_max != config_.drop_count_max || h.order_slot_count != config_.order_slot_count ||
      h.holding_count_max != config_.holding_count_max ||
      h.batch_command_count_max != config_.batch_command_count_max ||
      h.pay_window_us != config_.pay_window_us || h.api_key_count_max != config_.api_key_count_max ||
      h.coupon_count_max != config_.coupon_count_max ||
      h.coupon_claim_count_max != config_.coupon_claim_count_max ||
      h.coupon_order_count_max != config_.coupon_order_count_max ||
      h.presale_count_max != config_.presale_count_max || h.deposit_count_max != config_.deposit_count_max ||
      h.evicted_key_count_max != config_.evicted_key_count_max) {
    return Status::InvalidArgument(
        "the snapshot was taken with a different engine configuration (capacities or pay "
        "window); start with the configuration the data directory was created with");
  }
  if (h.merchant_count > h.merchant_count_max || h.sku_count > h.sku_count_max ||
      h.drop_count > h.drop_count_max || h.close_heap_count > h.drop_count ||
      h.api_key_count > h.api_key_count_max || h.coupon_count > h.coupon_count_max ||
      h.claim_count > h.coupon_claim_count_max || h.coupon_order_head >= h.coupon_order_count_max ||
      h.coupon_order_count > h.coupon_order_count_max || h.presale_count > h.presale_count_max ||
      h.deposit_count > h.deposit_count_max) {
    return Status::Corruption("engine state: table counts exceed capacities");
  }
  StateReader in(state);
  StateHead skipped;
  bool ok = in.Take(&skipped, sizeof(skipped)) &&
            in.Take(merchants_.get(), sizeof(Merchant) * h.merchant_count) &&
            in.TakeMap(&skus_, h.sku_count) &&
            in.Take(drops_.get(), sizeof(Drop) * h.drop_count) &&
            in.Take(sales_.get(), sizeof(EngineSales)) &&
            in.Take(drop_sales_.get(), sizeof(SalesFigures) * h.drop_count) &&
            in.Take(close_heap_.get(), sizeof(uint32_t) * h.close_heap_count) &&
            in.Take(orders_.get(), sizeof(Order) * config_.order_slot_count) &&
            in.TakeMap(&merchant_index_, h.merchant_count) &&
            in.TakeMap(&drop_index_, h.drop_count) && in.TakeMap(&key_index_, h.key_count) &&
            in.TakeFilter(&evicted_keys_, h.evicted_key_count) &&
            in.TakeMap(&holdings_, h.holding_count) &&
            in.Take(api_keys_.get(), sizeof(ApiKeyRow) * h.api_key_count) &&
            in.Take(coupons_.get(), sizeof(CouponRow) * h.coupon_count) &&
            in.TakeMap(&coupon_index_, h.coupon_count) &&
            in.Take(claims_.get(), sizeof(ClaimRow) * h.claim_count) &&
            in.TakeMap(&claim_index_, h.claim_count) &&
            in.Take(coupon_orders_.get(), sizeof(CouponOrderRow) * config_.coupon_order_count_max) &&
            in.Take(presales_.get(), sizeof(PresaleRow) * h.presale_count) &&
            in.TakeMap(&presale_index_, h.presale_count) &&
            in.Take(deposits_.get(), sizeof(DepositRow) * h.deposit_count) &&
            in.TakeMap(&deposit_index_, h.deposit_count);
  if (!ok) return Status::Corruption("engine state: tables do not match their counts");
  if ((h.ledger_enabled != 0) != (ledger_ != nullptr) ||
      (h.fulfilment_enabled != 0) != (fulfilment_ != nullptr)) {
    return Status::InvalidArgument("the snapshot was taken with payments or fulfilment switched "
                                   "differently; start with the data directory's configuration");
  }
  size_t at = in.position();
  if (state.size() - at != h.ledger_bytes + h.fulfilment_bytes) {
    return Status::Corruption("engine state: the modules' parts do not fill the rest of the state");
  }
  if (ledger_) {
    Status s = ledger_->Restore(state.subspan(at, h.ledger_bytes));
    if (!s.ok()) return s.code() == StatusCode::kInvalidArgument ? s : Status::Corruption("ledger state: " + s.message());
    at += h.ledger_bytes;
  }
  if (fulfilment_) {
    Status s = fulfilment_->Restore(state.subspan(at, h.fulfilment_bytes));
    if (!s.ok()) return s.code() == StatusCode::kInvalidArgument ? s : Status::Corruption("fulfilment state: " + s.message());
    at += h.fulfilment_bytes;
  }
  ELEVEN_ASSERT(at == state.size());
  last_op_ = h.last_op;
  last_timestamp_us_ = h.last_timestamp_us;
  stats_ = h.stats;
  merchant_count_ = h.merchant_count;
  drop_count_ = h.drop_count;
  close_heap_count_ = h.close_heap_count;
  next_order_id_ = h.next_order_id;
  next_slot_ = static_cast<uint32_t>(next_order_id_ % config_.order_slot_count);
  expiry_cursor_ = h.expiry_cursor;
  api_key_count_ = h.api_key_count;
  coupon_count_ = h.coupon_count;
  claim_count_ = h.claim_count;
  coupon_order_head_ = h.coupon_order_head;
  coupon_order_count_ = h.coupon_order_count;
  presale_count_ = h.presale_count;
  deposit_count_ = h.deposit_count;
  // Checked right after reading back: a state that breaks an invariant is never served.
  CheckInvariants();
  return Status::Ok();
}

}  // namespace eleven::engine
