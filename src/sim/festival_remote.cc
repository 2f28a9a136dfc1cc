// The festival against `eleven serve`, over one connection of the C++ client.
//
// Every batch is sent as set_clock(at_us) then submit, without waiting: one connection's
// requests are applied in order and a set_clock cuts the server's batching, so the server
// applies the same commands at the same log times in the same entries as the embedded
// replica would (docs/protocol.md, "Log time and set_clock"). Results come back on the
// client's thread and are handed over under mu_; the festival only waits when it needs a
// batch's results (reply_lag_ticks later) or a query's answer.
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <unordered_map>

#include "base/assert.h"
#include "client/client.h"
#include "sim/festival_backend.h"

namespace eleven::sim {

namespace {

constexpr size_t kLookupKeysMax = 1024;  // the server's default query_ids_max

// The first capacity of `have` below `need`, as "key (server N, needs M)"; "" if it fits.
std::string FirstShortfall(const wire::LimitsRecord& have, const wire::LimitsRecord& need) {
  const struct {
    const char* key;
    uint64_t have, need;
  } checks[] = {
      {"engine.merchants_max", have.merchant_count_max, need.merchant_count_max},
      {"engine.skus_max", have.sku_count_max, need.sku_count_max},
      {"engine.drops_max", have.drop_count_max, need.drop_count_max},
      {"engine.order_slots", have.order_slot_count, need.order_slot_count},
      {"engine.holdings_max", have.holding_count_max, need.holding_count_max},
      {"engine.batch_commands_max", have.batch_command_count_max, need.batch_command_count_max},
      {"ledger.enabled", have.ledger_enabled, need.ledger_enabled},
      {"ledger.accounts_max", have.account_count_max, need.account_count_max},
      {"ledger.transfers_max", have.transfer_count_max, need.transfer_count_max},
      {"ledger.buyers_max", have.buyer_count_max, need.buyer_count_max},
      {"ledger.merchants_max", have.ledger_merchant_count_max, need.ledger_merchant_count_max},
      {"ledger.orders_max", have.ledger_order_count_max, need.ledger_order_count_max},
      {"ledger.plans_max", have.plan_count_max, need.plan_count_max},
      {"fulfilment.enabled", have.fulfilment_enabled, need.fulfilment_enabled},
      {"fulfilment.warehouses_max", have.warehouse_count_max, need.warehouse_count_max},
      {"fulfilment.couriers_max", have.courier_count_max, need.courier_count_max},
      {"fulfilment.stock_entries_max", have.stock_entry_count_max, need.stock_entry_count_max},
      {"fulfilment.skus_max", have.fulfilment_sku_count_max, need.fulfilment_sku_count_max},
      {"fulfilment.parcels_max", have.parcel_count_max, need.parcel_count_max},
      {"fulfilment.shipments_max", have.shipment_count_max, need.shipment_count_max},
      {"fulfilment.backlog_max", have.backlog_count_max, need.backlog_count_max},
      {"fulfilment.delivered_outbox_max", have.delivered_outbox_count_max,
       need.delivered_outbox_count_max},
      {"engine.coupons_max", have.coupon_count_max, need.coupon_count_max},
      {"engine.coupon_claims_max", have.coupon_claim_count_max, need.coupon_claim_count_max},
      {"engine.coupon_orders_max", have.coupon_order_count_max, need.coupon_order_count_max},
      {"engine.presales_max", have.presale_count_max, need.presale_count_max},
      {"engine.deposits_max", have.deposit_count_max, need.deposit_count_max},
  };
  for (const auto& c : checks) {
    if (c.have < c.need) {
      return std::string(c.key) + " (server " + std::to_string(c.have) + ", the scenario needs " +
             std::to_string(c.need) + ")";
    }
  }
  return "";
}

class RemoteBackend final : public FestivalBackend {
 public:
  RemoteBackend(std::string address, std::string key) : address_(std::move(address)), key_(std::move(key)) {}
  // The client goes first: its destructor fails what is still waiting, through callbacks
  // that use mu_ and the rest.
  ~RemoteBackend() override { client_.reset(); }

  Status Open(const engine::EngineConfig& config) override;
  std::string mode() const override { return "connect " + address_; }
  std::string limits_note() const override { return limits_note_; }

  Status Submit(std::span<const wire::Command> commands, uint64_t at_us, std::span<wire::Result> results,
                uint64_t* ticket) override;
  uint64_t ticket_done(bool /*durable*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    return done_upto_;  // a reply leaves the server only once durable
  }
  Status Wait(uint64_t ticket, bool /*durable*/) override {
    ELEVEN_ASSERT(ticket <= sent_);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_upto_ >= ticket || !failure_.ok(); });
    return failure_;
  }

  uint64_t RequestLookup(protocol::Operation op, std::vector<uint64_t> keys) override;
  Status TakeLookup(uint64_t token, LookupAnswer* answer) override;
  uint64_t RequestFigures() override;
  Status TakeFigures(uint64_t token, wire::FiguresRecord* figures) override;
  Status Finish(BackendFinal* final) override;

 private:
  // Called on the client's thread with a request's outcome; the first failure sticks.
  void Fail(const Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_.ok()) failure_ = status;
    done_cv_.notify_all();
  }
  void Arrived(uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    arrived_.insert(ticket);
    while (!arrived_.empty() && *arrived_.begin() == done_upto_ + 1) {
      arrived_.erase(arrived_.begin());
      done_upto_++;
    }
    done_cv_.notify_all();
  }
  Status CheckEmptyAndClock(const engine::EngineConfig& config);

  const std::string address_;
  const std::string key_;
  std::unique_ptr<client::Client> client_;
  std::string limits_note_;
  uint64_t sent_ = 0;  // festival thread only

  std::mutex mu_;
  std::condition_variable done_cv_;
  Status failure_;
  uint64_t done_upto_ = 0;       // every ticket up to here has its results
  std::set<uint64_t> arrived_;   // tickets in beyond done_upto_ + 1 (replies may overtake)
  struct FiguresRead {
    bool done = false;
    wire::FiguresRecord record{};
  };
  std::deque<FiguresRead> figures_;  // by token; a deque, so replies can fill them in place
  struct LookupRead {
    size_t chunks_left = 0;  // query replies still to come
    LookupAnswer answer;
  };
  std::unordered_map<uint64_t, LookupRead> lookups_;  // by token, until taken
  uint64_t lookups_requested_ = 0;                    // festival thread only
};

Status RemoteBackend::Open(const engine::EngineConfig& config) {
  client::ClientOptions options;
  options.address = address_;
  options.key = key_;
  // The festival keeps up to reply_lag_ticks ticks of set_clock+submit pairs in flight.
  options.requests_in_flight_max = 256;
  options.request_timeout_ms = 120'000;  // a full batch on a slow disk is not a failure
  const Status connected = client::Client::Connect(options, &client_);
  if (connected.code() == StatusCode::kFailedPrecondition) return connected;  // unauthenticated
  if (!connected.ok()) {
    return Status::Unavailable("cannot reach eleven serve at " + address_ + ": " + connected.ToString());
  }
  return CheckEmptyAndClock(config);
}

// The server must be freshly formatted (the festival creates its own catalog): no entry, or
// only the one `eleven format` writes, which creates key 1. It must have room for the
// scenario, and stamp batches with the clients' clock.
Status RemoteBackend::CheckEmptyAndClock(const engine::EngineConfig& config) {
  protocol::DigestRecord digest{};
  ELEVEN_RETURN_IF_ERROR(client_->GetDigest(&digest));
  wire::Code first_key = wire::Code::key_not_found;
  if (digest.op == 1) {
    wire::KeyRecord key{};
    ELEVEN_RETURN_IF_ERROR(client_->GetKey(1, &first_key, &key));
  }
  if (digest.op > 1 || (digest.op == 1 && first_key != wire::Code::ok)) {
    return Status::FailedPrecondition("the server at " + address_ + " is not empty (" +
                                      std::to_string(digest.op) +
                                      " log entries applied): the festival creates its own catalog "
                                      "and needs a freshly formatted data "
                                      "directory (eleven format --data DIR --config FILE from "
                                      "--print-serve-config, then eleven serve --data "
                                      "DIR ...)");
  }
  wire::LimitsRecord limits{};
  ELEVEN_RETURN_IF_ERROR(client_->GetLimits(&limits));
  const wire::LimitsRecord need = engine::LimitsOf(config);
  const std::string shortfall = FirstShortfall(limits, need);
  if (!shortfall.empty()) {
    return Status::FailedPrecondition("the server at " + address_ + " is too small for this scenario: " + shortfall +
                                      "; start it with the config from `eleven festival --scenario F "
                                      "--print-serve-config`");
  }
  if (std::memcmp(&limits, &need, sizeof(limits)) != 0) {
    limits_note_ = "the server's capacities differ from the embedded engine's for this scenario (it fits), so "
                   "its state digest cannot equal an embedded run's; use --print-serve-config for an exact match";
  }
  wire::Code code = wire::Code::ok;
  protocol::ClockRecord clock{};
  ELEVEN_RETURN_IF_ERROR(client_->SetClock(0, &code, &clock));
  if (code == wire::Code::clock_is_wall) {
    return Status::FailedPrecondition(
        "the server at " + address_ + " stamps batches with its wall clock; the festival runs compressed log "
        "time and needs `eleven serve --clock client` (or [engine] clock = \"client\", as "
        "--print-serve-config writes)");
  }
  if (code != wire::Code::ok) {
    return Status::FailedPrecondition("set_clock refused: " + std::string(wire::CodeName(code)));
  }
  return Status::Ok();
}

Status RemoteBackend::Submit(std::span<const wire::Command> commands, uint64_t at_us,
                             std::span<wire::Result> results, uint64_t* ticket) {
  ELEVEN_ASSERT(!commands.empty() && results.size() >= commands.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) return failure_;
  }
  *ticket = ++sent_;
  client_->Query(protocol::Operation::kSetClock, std::span(&at_us, 1),
                 [this](const Status& status, std::span<const std::byte> entry) {
                   wire::Code code = wire::Code::invalid_operation;
                   if (status.ok() && entry.size() >= sizeof(code)) std::memcpy(&code, entry.data(), sizeof(code));
                   if (!status.ok()) {
                     Fail(status);
                   } else if (code != wire::Code::ok) {
                     Fail(Status::FailedPrecondition("set_clock refused: " + std::string(wire::CodeName(code))));
                   }
                 });
  const uint64_t t = *ticket;
  const size_t count = commands.size();
  wire::Result* out = results.data();
  client_->Submit(commands, [this, t, count, out](const Status& status, std::span<const wire::Result> got) {
    if (!status.ok()) {
      Fail(status);
      return;
    }
    if (got.size() != count) {
      Fail(Status::Corruption("a submit reply with " + std::to_string(got.size()) + " results for " +
                              std::to_string(count) + " commands"));
      return;
    }
    std::memcpy(out, got.data(), count * sizeof(wire::Result));
    Arrived(t);
  });
  return Status::Ok();
}

// Every chunk is sent at once, in order after what was submitted before; the replies fill
// the answer in place on the client's thread.
uint64_t RemoteBackend::RequestLookup(protocol::Operation op, std::vector<uint64_t> keys) {
  ELEVEN_ASSERT(protocol::ShapeOf(op) == protocol::QueryShape::kByKey);
  const size_t size = protocol::QueryRecordSize(op);
  const size_t entry_size = protocol::ReplyRecordSize(op);
  const uint64_t token = ++lookups_requested_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    LookupRead& read = lookups_[token];
    read.chunks_left = (keys.size() + kLookupKeysMax - 1) / kLookupKeysMax;
    read.answer.codes.resize(keys.size());
    read.answer.records.resize(keys.size() * size);
  }
  for (size_t at = 0; at < keys.size(); at += kLookupKeysMax) {
    const size_t n = std::min(kLookupKeysMax, keys.size() - at);
    client_->Query(op, std::span(keys).subspan(at, n),
                   [this, token, at, n, size, entry_size](const Status& status, std::span<const std::byte> entries) {
                     if (!status.ok() || entries.size() != n * entry_size) {
                       Fail(status.ok() ? Status::Corruption("a query reply of the wrong size") : status);
                       return;
                     }
                     std::lock_guard<std::mutex> lock(mu_);
                     LookupRead& read = lookups_.at(token);
                     for (size_t i = 0; i < n; i++) {
                       const std::byte* entry = entries.data() + i * entry_size;
                       std::memcpy(&read.answer.codes[at + i], entry, sizeof(wire::Code));
                       std::memcpy(read.answer.records.data() + (at + i) * size, entry + protocol::kQueryEntryHeadSize,
                                   size);
                     }
                     read.chunks_left--;
                     done_cv_.notify_all();
                   });
  }
  return token;
}

Status RemoteBackend::TakeLookup(uint64_t token, LookupAnswer* answer) {
  ELEVEN_ASSERT(token != 0 && token <= lookups_requested_);
  std::unique_lock<std::mutex> lock(mu_);
  auto it = lookups_.find(token);
  ELEVEN_ASSERT(it != lookups_.end());  // each token is taken once
  done_cv_.wait(lock, [&] { return it->second.chunks_left == 0 || !failure_.ok(); });
  if (!failure_.ok()) return failure_;
  *answer = std::move(it->second.answer);
  lookups_.erase(it);
  return Status::Ok();
}

uint64_t RemoteBackend::RequestFigures() {
  uint64_t token = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    token = figures_.size();
    figures_.emplace_back();
  }
  client_->Query(protocol::Operation::kGetFigures, {}, [this, token](const Status& status, std::span<const std::byte> entry) {
    if (!status.ok() || entry.size() != protocol::ReplyRecordSize(protocol::Operation::kGetFigures)) {
      Fail(status.ok() ? Status::Corruption("a get_figures reply of the wrong size") : status);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::memcpy(&figures_[token].record, entry.data() + protocol::kQueryEntryHeadSize, sizeof(wire::FiguresRecord));
    figures_[token].done = true;
    done_cv_.notify_all();
  });
  return token;
}

Status RemoteBackend::TakeFigures(uint64_t token, wire::FiguresRecord* figures) {
  std::unique_lock<std::mutex> lock(mu_);
  ELEVEN_ASSERT(token < figures_.size());
  done_cv_.wait(lock, [&] { return figures_[token].done || !failure_.ok(); });
  if (!failure_.ok()) return failure_;
  *figures = figures_[token].record;
  return Status::Ok();
}

Status RemoteBackend::Finish(BackendFinal* final) {
  ELEVEN_RETURN_IF_ERROR(Wait(sent_, true));
  ELEVEN_RETURN_IF_ERROR(client_->GetStats(&final->stats));
  ELEVEN_RETURN_IF_ERROR(client_->GetDigest(&final->digest));
  // The sales figures' total bucket comes first in get_sales' reply (docs/protocol.md).
  wire::Code code = wire::Code::ok;
  std::vector<wire::SalesRecord> sales;
  ELEVEN_RETURN_IF_ERROR(client_->GetSales(0, &code, &sales));
  if (code != wire::Code::ok)
    return Status::FailedPrecondition("get_sales refused: " + std::string(wire::CodeName(code)));
  for (const wire::SalesRecord& record : sales) {
    if (record.dimension == wire::SalesDimension::kTotal) final->sales = record;
  }
  const client::ClientStats stats = client_->stats();
  final->client_resends = stats.resends;
  final->busy_replies = stats.busy_replies;
  final->journal_known = false;
  return Status::Ok();
}

}  // namespace

std::unique_ptr<FestivalBackend> MakeRemoteBackend(const std::string& address, const std::string& key) {
  return std::make_unique<RemoteBackend>(address, key);
}

}  // namespace eleven::sim
