#include "sim/festival.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "sim/festival_backend.h"
#include "sim/festival_json.h"
#include "sim/time_queue.h"
#include "wire/fulfilment.h"
#include "wire/ledger.h"
#include "wire/make.h"

namespace eleven::sim {

namespace {

constexpr uint64_t kSecondUs = 1'000'000;
constexpr uint64_t kDayStartUs = 1'573'401'600ull * kSecondUs;  // 2019-11-11 00:00 Beijing, in UTC µs
constexpr uint32_t kBatchMax = 8190;
constexpr uint64_t kSkuStride = 100;              // sku id = merchant * 100 + k + 1
constexpr uint64_t kDropSkuBase = 900'000'000'000;  // drop SKUs live apart from the catalog
constexpr uint64_t kWaybillStride = 10'000'000'000;  // courier c issues c * stride + n
constexpr uint64_t kDrawdownTransferBase = 1ull << 40;
// After-sales refund ids (their transfer ids): apart from deposits (buyer ids) and draw-downs.
constexpr uint64_t kAfterSalesRefundBase = 1ull << 44;
// Coupon ids: platform coupons from 1, live-room coupons (one per drop) from kLiveRoomCouponBase,
// shop coupons kShopCouponBase + merchant. A pre-sale's id is its SKU's.
constexpr uint64_t kLiveRoomCouponBase = 1000;
constexpr uint64_t kShopCouponBase = 1'000'000'000;
// Pre-sale deposit windows open this long before the day (2019: from 21 October).
constexpr uint64_t kDepositWindowUs = 21 * 86400 * kSecondUs;
// Deposits are paid in the last half hour before midnight, after the day before's set-up.
constexpr uint64_t kDepositsAtUs = kDayStartUs - 1800 * kSecondUs;
constexpr uint32_t kDepositUnitsMax = 2;  // a pre-sale's per-buyer limit; deposits take 1 or 2
constexpr double kFirstMinutesS = 600;  // the timeline is per second here, per minute after
constexpr uint64_t kSurgeUs = 3600 * kSecondUs;  // the midnight hour runs on fine ticks

// The 77 countries and regions besides China that Tmall Global's overseas brands came from.
constexpr const char* kCountries[] = {
    "JP", "US", "KR", "AU", "DE", "FR", "GB", "IT", "NZ", "CA", "ES", "NL", "CH", "BE", "SE", "DK",
    "NO", "FI", "AT", "IE", "PT", "GR", "TH", "MY", "SG", "ID", "VN", "PH", "IN", "IL", "TR", "AE",
    "SA", "RU", "PL", "CZ", "HU", "RO", "BG", "HR", "SI", "SK", "LT", "LV", "EE", "IS", "LU", "MT",
    "CY", "BR", "AR", "CL", "MX", "CO", "PE", "ZA", "EG", "MA", "KE", "NG", "UA", "BY", "KZ", "UZ",
    "MN", "LK", "NP", "BD", "PK", "QA", "KW", "OM", "JO", "HK", "MO", "TW", "RS"};
constexpr size_t kCountryCount = sizeof(kCountries) / sizeof(kCountries[0]);
static_assert(kCountryCount == 77);

constexpr const char* kProvinces[] = {
    "Beijing", "Tianjin", "Hebei", "Shanxi", "Inner Mongolia", "Liaoning", "Jilin", "Heilongjiang",
    "Shanghai", "Jiangsu", "Zhejiang", "Anhui", "Fujian", "Jiangxi", "Shandong", "Henan", "Hubei",
    "Hunan", "Guangdong", "Guangxi", "Hainan", "Chongqing", "Sichuan", "Guizhou", "Yunnan", "Tibet",
    "Shaanxi", "Gansu", "Qinghai", "Ningxia", "Xinjiang"};

// Province numbers (1-based, as in kProvinces) from the largest online market down.
constexpr uint16_t kRegionRank[31] = {19, 11, 10, 9, 1, 15, 13, 16, 23, 17, 18, 3, 12, 22, 6, 14,
                                      20, 2, 27, 25, 24, 4, 8, 5, 7, 21, 31, 28, 30, 29, 26};

// splitmix64: the simulation's own random stream (the engine never sees it).
struct Rng {
  uint64_t state;
  uint64_t Next() { return Fmix64(state += 0x9E3779B97F4A7C15ull); }
  double Unit() { return double(Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return uint64_t((unsigned __int128)Next() * n >> 64); }
  double Exponential(double mean) { return -mean * std::log(1.0 - Unit()); }
  template <size_t N>
  size_t Pick(const std::array<double, N>& shares) {
    double u = Unit() * [&] { double s = 0; for (double x : shares) s += x; return s; }();
    for (size_t i = 0; i < N; i++) {
      if ((u -= shares[i]) < 0) return i;
    }
    return N - 1;
  }
};

enum class Kind : uint8_t {
  kSetup,
  kOrder,
  kDropOrder,
  kRetry,
  kPay,
  kCancel,
  kTrack,
  kCheckShipment,
  kAfterSales,
  kClaim,        // a coupon claim of a hunt (Meta::info its index, Meta::method its coupon slot)
  kCouponOrder,  // a hunt's order, once its claims were answered (Event::info the hunt)
  kBalance,      // a pre-sale balance (info: the deposit's index in deposits_)
};

// A future action of a buyer or courier.
struct Event {
  uint64_t at_us;
  uint64_t sequence;  // ties break in creation order: the run stays deterministic
  Kind kind;
  uint8_t method = 0;
  uint8_t periods = 0;
  uint8_t parcel_state = 0;
  uint32_t info = 0;  // index into order_info_ (pay, cancel), or of the retried command
  uint64_t id = 0;    // order id or waybill
  int64_t amount_fen = 0;
  bool operator>(const Event& o) const { return at_us != o.at_us ? at_us > o.at_us : sequence > o.sequence; }
};

// What the simulator remembers of a sent order, for breakdowns and later actions.
struct OrderInfo {
  uint64_t buyer;
  uint32_t merchant;
  uint8_t tier;
  uint16_t region;
  int32_t drop;         // -1: none
  uint8_t coupons = 0;  // coupons the order names
};

// A buyer who claims coupons before ordering (docs/festival.md, "Coupons"): the basket is
// drawn at once, the claims are sent, and the order goes out with the coupons that were got
// once the claims' results are released.
struct Hunt {
  wire::Command order;  // without coupons
  OrderInfo info;
  Kind kind;  // kOrder or kDropOrder
  uint8_t claims_left = 0;
  uint8_t got_mask = 0;                              // bit k: claim k was granted
  uint32_t coupon[wire::kOrderCouponCountMax] = {};  // index into coupons_ of claim k
};

// What the festival keeps of a coupon it created, and what its claims met.
struct CouponInfo {
  uint64_t id;
  uint32_t line;  // the summary's line: platform coupons and live rooms one each, shops one
  int64_t amount_fen;
  int64_t threshold_fen;  // what the value must reach (a fixed coupon: amount + 1)
  uint32_t count;
  uint64_t claims = 0, granted = 0, exhausted = 0;
};

// A pre-sale of the day (one per chosen catalog SKU) and a deposit paid on it.
struct PresaleInfo {
  uint64_t sku;
  int64_t price_fen, deposit_fen, deposit_value_fen;
  uint32_t quota;
};
struct DepositPlan {
  uint64_t buyer;
  uint32_t presale;  // index into presales_
  uint16_t quantity;
  uint8_t method;  // balance or card
  bool paid = false;
};

struct Meta {
  Kind kind;
  uint32_t info;
  uint8_t method;
  uint8_t periods;
};

struct Batch {
  std::vector<wire::Command> commands;
  std::vector<Meta> meta;
  std::vector<wire::Result> results;  // written by the backend until Wait(ticket) returns
  uint64_t ticket = 0;
  uint64_t at_us = 0;
  uint64_t tick = 0;  // the tick that sent it
  uint64_t submitted_ns = 0;
  bool latency_recorded = false;
};

// What the buyers and couriers of one tick will need to know when its results are released:
// asked right after the tick's batches (so read at that point of the log, in one query
// each) and taken at the release, reply_lag_ticks later. Nothing waits for it meanwhile.
struct TickReads {
  uint64_t tick = 0;
  std::vector<uint64_t> shipment_keys;  // orders paid in the tick and shipments checked in it, sorted
  std::vector<uint64_t> order_keys;     // idempotency keys retried in the tick, sorted
  uint64_t shipments_token = 0;         // 0: nothing asked
  uint64_t orders_token = 0;
  std::vector<std::pair<uint64_t, uint64_t>> checks;  // (order id, at_us) of the tick's kCheckShipment events
  std::vector<int64_t> check_amounts;                 // the amount of each of those orders
  bool empty() const { return shipment_keys.empty() && order_keys.empty() && checks.empty(); }
};

// A parcel look-up asked at the end of a release (for the warehouse and courier tallies).
struct ParcelRead {
  uint64_t token;
  uint64_t released_tick;  // the release's tick_last
};

// The day before, sent as it is made: each full batch goes out at once as one log entry, at
// most kInFlight of them not yet checked; every command must be accepted. The first failure
// sticks, and what is pushed after it is dropped. The backend may read and write the chunks
// until their tickets are done, so the festival keeps the stream until the backend is gone
// or every chunk is checked. With a `tally`, commands may be refused (buyers' deposits):
// each result is handed to it with the command's number in the stream instead.
class SetupStream {
 public:
  using Tally = std::function<void(uint64_t index, const wire::Result& result)>;
  SetupStream(FestivalBackend* backend, uint64_t at_us, Tally tally = nullptr)
      : backend_(backend), at_us_(at_us), tally_(std::move(tally)) {}
  void push_back(const wire::Command& c) {
    if (!status_.ok()) return;
    if (open_.commands.empty()) open_.commands.reserve(kBatchMax);
    open_.commands.push_back(c);
    if (open_.commands.size() == kBatchMax) Send();
  }
  const Status& status() const { return status_; }
  // Sends what is left and waits until every batch is durable and checked.
  [[nodiscard]] Status Finish() {
    if (!open_.commands.empty()) Send();
    while (!sent_.empty() && status_.ok()) Check();
    return status_;
  }

 private:
  static constexpr size_t kInFlight = 16;
  struct Chunk {
    std::vector<wire::Command> commands;
    std::vector<wire::Result> results;
    uint64_t ticket = 0;
    uint64_t first = 0;  // the set-up's number of its first command
  };
  void Send() {
    while (sent_.size() >= kInFlight && status_.ok()) Check();
    if (!status_.ok()) return;
    Chunk& chunk = sent_.emplace_back(std::move(open_));  // a deque: the chunk stays where it is
    open_ = Chunk{};
    chunk.first = sent_count_;
    sent_count_ += chunk.commands.size();
    chunk.results.resize(chunk.commands.size());
    status_ = backend_->Submit(chunk.commands, at_us_, chunk.results, &chunk.ticket);
  }
  void Check() {
    const Chunk& chunk = sent_.front();
    status_ = backend_->Wait(chunk.ticket, true);
    for (size_t i = 0; status_.ok() && i < chunk.results.size(); i++) {
      if (tally_) {
        tally_(chunk.first + i, chunk.results[i]);
      } else if (chunk.results[i].code != wire::Code::ok) {
        status_ = Status::FailedPrecondition("festival set-up command " + std::to_string(chunk.first + i) +
                                             " refused: " + std::string(wire::CodeName(chunk.results[i].code)));
      }
    }
    sent_.pop_front();
  }

  FestivalBackend* const backend_;
  const uint64_t at_us_;
  const Tally tally_;
  Chunk open_;
  std::deque<Chunk> sent_;
  uint64_t sent_count_ = 0;
  Status status_;
};

struct Breakdown {
  uint64_t orders = 0;
  int64_t gmv_fen = 0;
  uint64_t buyers = 0;
};

}  // namespace

class Festival {
 public:
  // Events in buckets of one tick, the ring covering 65,536 ticks (11 minutes of 10 ms).
  Festival(const Scenario& s, const FestivalOptions& o)
      : s_(s), o_(o), rng_{s.seed}, events_(uint64_t(s.tick_ms) * 1000, 1 << 16) {}
  // The backend first: it may still read and write in_flight_ batches and setup_'s chunks
  // until its engine thread (embedded) or client (remote) is gone.
  ~Festival() { backend_.reset(); }
  Status Run(std::string* summary_json);

 private:
  Status Open();
  Status RunDay();
  Status Setup();
  void GenerateTick(uint64_t tick_start_us, uint64_t tick_us);
  Status SubmitPending(uint64_t at_us, uint64_t tick);
  void NoteDurable();
  void RequestReads(uint64_t tick);
  Status ReleaseUpTo(uint64_t tick_last);
  Status TakeReads(const TickReads& reads);
  Status TakeParcels(uint64_t tick_last);
  void Process(const Batch& batch);
  template <typename Record>
  wire::Code Look(uint64_t key, Record* record) const;
  void OnPlaced(const Meta& meta, const wire::Result& r, uint64_t at_us);
  void OnPaid(const Meta& meta, const wire::Result& r, uint64_t at_us);
  void ScheduleParcels(uint64_t order_id, int64_t amount_fen, uint64_t at_us, bool same_day);
  void ScheduleReturn(const wire::ShipmentRecord& shipment, int64_t amount_fen, uint64_t at_us);
  // Coupons and pre-sale (docs/festival.md).
  void SetupCoupons(SetupStream& c);
  void SetupPresales(SetupStream& c);
  Status Deposits();
  void SendOrder(const wire::Command& c, const OrderInfo& info, Kind kind, uint64_t tick_start_us);
  bool StartHunt(const wire::Command& c, const OrderInfo& info, Kind kind, int64_t value_fen);
  void PlaceHunted(uint32_t hunt, uint64_t tick_start_us);
  void OnClaimed(const Meta& meta, const wire::Result& r);
  void AddBalance(const Event& e);
  void OnBalance(const Meta& meta, const wire::Result& r);
  Status ReadPromotions();
  void SummaryCoupons(JsonWriter& j) const;
  void SummaryPresale(JsonWriter& j) const;
  void Push(Event e) {
    e.sequence = sequence_++;
    events_.Push(e);
  }
  void AddCommand(const wire::Command& c, Meta meta) {
    pending_.commands.push_back(c);
    pending_.meta.push_back(meta);
  }
  void RecordTimeline(uint64_t until_us, bool final);
  Status PollSnapshot(bool wait);
  void Report(double wall_s);
  void RequestReportReads();
  void CollectReportReads();
  Status Finish();
  std::string Summary(double wall_s);
  void SummaryNotes(JsonWriter& j) const;

  uint8_t TierOf(uint64_t buyer) const;
  // Provinces are not equal: buyers follow a Zipf law (0.9) over the provinces ranked by
  // online retail (Guangdong, Zhejiang, Jiangsu, Shanghai, Beijing, ... as in kRegionRank).
  uint16_t RegionOf(uint64_t buyer) const {
    const double u = double(Fmix64(buyer ^ 0x5EED) >> 11) * 0x1.0p-53 * region_cdf_.back();
    const size_t rank = size_t(std::lower_bound(region_cdf_.begin(), region_cdf_.end(), u) - region_cdf_.begin());
    return s_.regions == 31 ? kRegionRank[rank] : uint16_t(1 + rank);
  }
  bool IsOverseas(uint32_t merchant) const {
    return double(Fmix64(merchant * 7 + 1) >> 11) * 0x1.0p-53 < s_.overseas_share;
  }
  // An index into kCountries, or kCountryCount for China.
  size_t CountryIndexOf(uint32_t merchant) const {
    return IsOverseas(merchant) ? Fmix64(merchant) % std::min<size_t>(kCountryCount, s_.countries - 1) : kCountryCount;
  }
  // The countries that had accepted orders, by name (the summary's order).
  std::map<std::string, Breakdown> CountriesByName() const {
    std::map<std::string, Breakdown> named;
    for (size_t c = 0; c <= kCountryCount; c++) {
      if (by_country_[c].orders != 0) named[c == kCountryCount ? "CN" : kCountries[c]] = by_country_[c];
    }
    return named;
  }
  const char* CountryOf(uint32_t merchant) const {
    const size_t c = CountryIndexOf(merchant);
    return c == kCountryCount ? "CN" : kCountries[c];
  }
  uint32_t PickMerchant();
  int64_t PriceOf(uint64_t sku) const {
    return s_.price_min_fen + int64_t(Fmix64(sku) % uint64_t(s_.price_max_fen - s_.price_min_fen + 1));
  }
  uint32_t DropMerchant(size_t d) const { return uint32_t(1 + (d * 7919) % s_.merchants); }

  const Scenario& s_;
  const FestivalOptions& o_;
  Rng rng_;
  std::unique_ptr<FestivalBackend> backend_;
  std::unique_ptr<SetupStream> setup_;  // while the day before is sent (SetupStream)
  TickReads tick_reads_;                  // the tick being made
  std::deque<TickReads> reads_in_flight_;  // asked, by tick, until released
  // The reads of the tick under release (Look answers from them) and their answers.
  const TickReads* released_ = nullptr;
  LookupAnswer shipments_answer_, orders_answer_;
  std::vector<uint64_t> parcel_keys_;  // waybills scheduled by the release under way
  std::deque<ParcelRead> parcel_reads_;
  // The live view's reads, asked at one report and shown at the next.
  uint64_t report_drops_token_ = 0, report_figures_token_ = 0;
  uint32_t report_sold_out_ = 0;
  uint64_t report_dispatched_ = 0;
  uint64_t last_at_us_ = 0;  // log time of the last batch sent
  std::vector<double> zipf_cdf_;
  std::vector<double> region_cdf_;
  TimeQueue<Event> events_;
  std::vector<Event> due_;  // the tick's events, taken from events_
  uint64_t sequence_ = 0;
  std::vector<OrderInfo> order_info_;
  std::vector<wire::Command> retry_commands_;
  std::vector<uint64_t> drop_ids_;
  double order_carry_ = 0;
  std::vector<double> drop_carry_;
  uint64_t key_counter_ = 0;
  // The tick being made (µs since 00:00): released results are acted on from here.
  uint64_t now_us_ = 0;

  // Coupons: platform coupons first (index p), then one per drop, then the shops'.
  std::vector<CouponInfo> coupons_;
  std::vector<std::string> coupon_lines_;   // the summary's lines, by CouponInfo::line
  std::vector<uint32_t> live_room_coupon_;  // by drop: index into coupons_
  std::vector<uint32_t> shop_coupon_;       // by merchant: index into coupons_, or UINT32_MAX
  std::vector<uint8_t> platform_tried_;     // by buyer: bit p once platform coupon p was claimed
  std::unordered_set<uint64_t> tried_;  // (coupon index << 32) | buyer, shop and live-room claims
  std::vector<Hunt> hunts_;             // by index; the free ones in free_hunts_
  std::vector<uint32_t> free_hunts_;
  std::map<wire::Code, uint64_t> claims_refused_by_code_;  // other than coupons_exhausted
  uint64_t coupon_orders_ = 0, coupons_named_ = 0;         // accepted orders that named coupons
  // Pre-sale.
  std::vector<PresaleInfo> presales_;
  std::vector<DepositPlan> deposits_;
  std::map<wire::Code, uint64_t> deposits_refused_by_code_, balances_refused_by_code_;
  uint64_t balances_paid_ = 0;

  Batch pending_;
  std::deque<Batch> in_flight_;
  std::vector<Batch> free_batches_;

  // Figures.
  uint64_t orders_sent_ = 0, accepted_ = 0, rejected_ = 0, retries_ = 0, retry_mismatches_ = 0;
  uint64_t paid_ = 0, cancelled_ = 0, pay_refused_ = 0;
  int64_t gmv_gross_fen_ = 0, gmv_net_fen_ = 0;
  // Returns (orders whose parcels all come back, refunded by the engine) and after-sales
  // refunds (merchant-funded): counted when sent back / when the refund is answered ok.
  uint64_t orders_returned_ = 0, after_sales_refunds_ = 0, after_sales_refused_ = 0;
  int64_t returns_refunded_fen_ = 0, after_sales_refunded_fen_ = 0;
  uint64_t after_sales_ids_ = 0;
  std::map<wire::Code, uint64_t> rejected_by_code_;
  std::array<uint64_t, 4> paid_by_method_{};
  std::map<int, uint64_t> instalments_by_periods_;
  std::array<Breakdown, 5> by_tier_{};
  std::vector<Breakdown> by_region_;
  std::array<Breakdown, kCountryCount + 1> by_country_{};  // by CountryIndexOf
  std::vector<uint8_t> buyer_seen_;
  std::vector<uint64_t> courier_parcels_;
  std::map<uint64_t, uint64_t> warehouse_parcels_;
  std::vector<uint32_t> latencies_us_;       // per order, whole run
  std::vector<uint32_t> bucket_latencies_us_;  // per order, current timeline bucket
  uint64_t orders_in_bucket_ = 0;
  uint64_t bucket_start_us_ = 0;
  std::vector<TimelinePoint> timeline_;
  std::vector<LatencyPoint> latency_timeline_;
  uint64_t peak_orders_ = 0;
  double peak_rate_ = 0, peak_at_s_ = 0;
  uint64_t started_ns_ = 0;
  uint64_t commands_applied_ = 0;
  uint64_t day_busy_ns_ = 0;  // the engine's time applying the day's batches (embedded)
  uint64_t realtime_lag_max_ns_ = 0;  // pace realtime: the latest a tick started after its moment
  uint64_t last_progress_ns_ = 0, last_progress_orders_ = 0;
  double snapshot_stall_ms_ = 0, snapshot_write_ms_ = 0;
  uint64_t snapshot_bytes_ = 0;
  std::vector<uint64_t> timeline_figures_;  // RequestFigures token per timeline_ point
  // Read at the end, for the summary.
  BackendFinal final_;
  std::vector<wire::DropRecord> final_drops_;
  std::vector<wire::CouponRecord> final_coupons_;    // by index of coupons_
  std::vector<wire::PresaleRecord> final_presales_;  // by index of presales_
  wire::FiguresRecord final_figures_{};
};

uint8_t Festival::TierOf(uint64_t buyer) const {
  double u = double(Fmix64(buyer * 31 + 7) >> 11) * 0x1.0p-53;
  for (uint8_t t = 0; t < 5; t++) {
    if ((u -= s_.tier_shares[t]) < 0) return uint8_t(t + 1);
  }
  return 5;
}

uint32_t Festival::PickMerchant() {
  const double u = rng_.Unit() * zipf_cdf_.back();
  return uint32_t(1 + (std::lower_bound(zipf_cdf_.begin(), zipf_cdf_.end(), u) - zipf_cdf_.begin()));
}

namespace {

// The orders a day of `s` sends, retries included (what capacities are sized by).
double DayOrders(const Scenario& s) {
  double total = 0;
  for (uint64_t t = 0; t < s.simulated_seconds; t++) total += s.OrdersPerSecondAt(double(t) + 0.5);
  for (const DropSpec& d : s.drops) total += d.demand_per_s * d.demand_seconds;
  return total * (1 + s.retry_share);
}

double UnitOf(uint64_t hash) { return double(hash >> 11) * 0x1.0p-53; }

// Coupons of each kind that may be claimed (docs/festival.md, "Coupons").
uint32_t PlatformCouponCount(const Scenario& s, const PlatformCouponSpec& c) {
  return std::max<uint32_t>(1, uint32_t(c.count_share * s.buyers));
}
uint32_t ShopCouponCount(const Scenario& s) {
  return std::max<uint32_t>(1, uint32_t(s.shop_coupon_count_share * s.buyers));
}
uint32_t LiveRoomCouponCount(const Scenario& s, const DropSpec& d) {
  return std::max<uint32_t>(1, uint32_t(s.live_room_count_share * d.quota));
}
bool ShopHasCoupon(const Scenario& s, uint32_t merchant) {
  return s.coupons && UnitOf(Fmix64(uint64_t(merchant) * 5 + 3)) < s.shop_coupon_share;
}
// Every claim the day can grant: the sum of the coupons' counts. The festival uses each
// claim at most once, so this also bounds the orders with coupons.
uint64_t CouponClaimsMax(const Scenario& s) {
  if (!s.coupons) return 0;
  uint64_t total = 0;
  for (const PlatformCouponSpec& c : s.platform_coupons) total += PlatformCouponCount(s, c);
  for (const DropSpec& d : s.drops) total += LiveRoomCouponCount(s, d);
  for (uint32_t m = 1; m <= s.merchants; m++) total += ShopHasCoupon(s, m) ? ShopCouponCount(s) : 0;
  return total;
}

bool IsPresaleSku(const Scenario& s, uint64_t sku) {
  return s.presale && UnitOf(Fmix64(sku ^ 0x5A1E5A1Eull)) < s.presale_sku_share;
}
uint64_t PresaleCount(const Scenario& s, uint64_t sku_stride) {
  uint64_t count = 0;
  for (uint32_t m = 1; s.presale && m <= s.merchants; m++) {
    for (uint32_t k = 0; k < s.skus_per_merchant; k++) {
      count += IsPresaleSku(s, uint64_t(m) * sku_stride + k + 1);
    }
  }
  return count;
}
// Deposits the day before can pay: a share of the buyers, with room for the draw's luck.
uint64_t DepositsMax(const Scenario& s) {
  return s.presale ? uint64_t(std::min(1.0, s.presale_buyer_share * 1.1) * s.buyers) + 1024 : 0;
}

}  // namespace

engine::EngineConfig FestivalEngineConfig(const Scenario& s) {
  // Capacities from the scenario: everything a day of this size can hold, nothing more.
  const double day_orders = DayOrders(s);
  // Rounded up to a multiple of 4,096, not to a power of two: the tables' dense rows take
  // what is asked (the hash maps in front of them size their own slots), and at full scale
  // the difference is gigabytes.
  auto round_up = [](double n) {
    constexpr uint64_t kStep = 4096;
    return std::max<uint64_t>(kStep, (uint64_t(std::ceil(n)) + kStep - 1) / kStep * kStep);
  };
  engine::EngineConfig e;
  e.merchant_count_max = uint32_t(round_up(s.merchants + 1));
  e.sku_count_max = uint32_t(round_up(double(s.merchants) * s.skus_per_merchant + s.drops.size() + 1));
  e.drop_count_max = 1024;
  // Every attempt takes a slot, and a slot frees only when its order is final: the ring
  // must hold every order still waiting for payment, so it gets room for the whole day.
  e.order_slot_count = uint32_t(round_up(day_orders * 1.5));
  e.holding_count_max = uint32_t(round_up(double(s.buyers) + 1));
  e.ledger_enabled = true;
  e.ledger.account_count_max = uint32_t(round_up((double(s.buyers) + s.merchants) * 2 + 64));
  e.ledger.buyer_count_max = uint32_t(round_up(s.buyers + 1));
  e.ledger.merchant_count_max = uint32_t(round_up(s.merchants + 1));
  e.ledger.order_count_max = uint32_t(round_up(day_orders));
  e.ledger.transfer_count_max = uint32_t(round_up(day_orders * 6 + s.buyers + s.merchants));
  e.ledger.plan_count_max = uint32_t(round_up(day_orders * (s.method_shares[2] + s.method_shares[3]) + 1024));
  e.fulfilment_enabled = true;
  e.fulfilment.warehouse_count_max = std::max<uint32_t>(16, s.warehouses);
  e.fulfilment.courier_count_max = std::max<uint32_t>(16, uint32_t(s.couriers.size()));
  e.fulfilment.sku_count_max = e.sku_count_max;
  e.fulfilment.stock_entry_count_max = uint32_t(round_up(double(e.sku_count_max) * 4));
  e.fulfilment.parcel_count_max = uint32_t(round_up(day_orders * 1.2));
  e.fulfilment.shipment_count_max = uint32_t(round_up(day_orders * 1.1));
  e.fulfilment.backlog_count_max = uint32_t(round_up(day_orders));
  e.fulfilment.delivered_outbox_count_max = 1 << 16;
  e.fulfilment.milestone_count = 1;
  e.fulfilment.milestone_parcels[0] = std::max<uint64_t>(1, uint64_t(100'000'000 * s.scale));
  // Promotions, sized by the scenario when it has them (the engine's defaults otherwise, so a
  // scenario without them keeps its state, to the digest).
  if (s.coupons) {
    const uint64_t claims = CouponClaimsMax(s);
    e.coupon_count_max =
        uint32_t(round_up(double(s.platform_coupons.size() + s.drops.size() + s.merchants + 1)));
    e.coupon_claim_count_max = uint32_t(round_up(double(claims)));
    e.coupon_order_count_max = uint32_t(round_up(double(claims)));
    // A platform coupon's payment moves one more leg, and reserves one more for its refund.
    e.ledger.transfer_count_max =
        uint32_t(round_up(double(e.ledger.transfer_count_max) + double(claims) * 2));
  }
  if (s.presale) {
    // A deposit is a payment of its own (reserving the legs an order's does), and a balance
    // makes a paid order: a slot, a payment, parcels.
    const double deposits = double(DepositsMax(s));
    e.presale_count_max = uint32_t(round_up(double(PresaleCount(s, kSkuStride))));
    e.deposit_count_max = uint32_t(round_up(deposits));
    e.order_slot_count = uint32_t(round_up(double(e.order_slot_count) + deposits));
    e.ledger.order_count_max = uint32_t(round_up(double(e.ledger.order_count_max) + deposits * 2));
    e.ledger.transfer_count_max =
        uint32_t(round_up(double(e.ledger.transfer_count_max) + deposits * 14));
    e.ledger.plan_count_max = uint32_t(round_up(double(e.ledger.plan_count_max) + deposits));
    e.fulfilment.parcel_count_max =
        uint32_t(round_up(double(e.fulfilment.parcel_count_max) + deposits * 1.2));
    e.fulfilment.shipment_count_max =
        uint32_t(round_up(double(e.fulfilment.shipment_count_max) + deposits * 1.1));
    e.fulfilment.backlog_count_max =
        uint32_t(round_up(double(e.fulfilment.backlog_count_max) + deposits));
  }
  return e;
}

Status Festival::Open() {
  backend_ = o_.connect.empty() ? MakeEmbeddedBackend(o_.data_dir, s_.snapshot_follower, o_.key)
                                : MakeRemoteBackend(o_.connect, o_.key);
  return backend_->Open(FestivalEngineConfig(s_));
}


// The day before: merchants and their SKUs, the drops' SKUs, warehouses and their stock,
// couriers and their coverage, buyers' wallets and credit, merchants' credit lines.
Status Festival::Setup() {
  setup_ = std::make_unique<SetupStream>(backend_.get(), kDayStartUs - 3600 * kSecondUs);
  SetupStream& c = *setup_;
  for (uint32_t m = 1; m <= s_.merchants; m++) {
    c.push_back(wire::MakeCreateMerchant(m, CountryOf(m), IsOverseas(m) ? 1 : 0));
    for (uint32_t k = 0; k < s_.skus_per_merchant; k++) {
      const uint64_t sku = uint64_t(m) * kSkuStride + k + 1;
      c.push_back(wire::MakeCreateSku(sku, m, PriceOf(sku), s_.stock_per_sku, 0));
    }
  }
  for (size_t d = 0; d < s_.drops.size(); d++) {
    const DropSpec& drop = s_.drops[d];
    c.push_back(wire::MakeCreateSku(kDropSkuBase + d, DropMerchant(d), drop.price_fen * 2, drop.quota, 0));
    const uint64_t opens = kDayStartUs + uint64_t(drop.opens_at_s * kSecondUs);
    c.push_back(wire::MakeCreateDrop(d + 1, kDropSkuBase + d, drop.price_fen, drop.quota, opens,
                                     opens + uint64_t(drop.demand_seconds * kSecondUs) + 900 * kSecondUs, 1));
    drop_ids_.push_back(d + 1);
  }
  SetupCoupons(c);
  SetupPresales(c);
  ELEVEN_RETURN_IF_ERROR(c.status());

  // Warehouses spread over the provinces; the last few are bonded (cross-border goods).
  const uint32_t normal = s_.warehouses - s_.bonded_warehouses;
  for (uint32_t w = 1; w <= s_.warehouses; w++) {
    wire::CreateWarehouse r{};
    r.operation = wire::kCreateWarehouse;
    r.flags = w > normal ? 1 : 0;
    r.city = 1;
    r.region = uint16_t(1 + (w * 13) % s_.regions);
    r.warehouse_id = w;
    r.x_km = int32_t(((r.region - 1) % 32) * 100);
    r.y_km = int32_t(((r.region - 1) / 32) * 100);
    r.hourly_capacity = s_.warehouse_hourly_capacity;
    r.daily_capacity = s_.warehouse_hourly_capacity * 24;
    c.push_back(wire::ToCommand(r));
  }
  auto stock = [&](uint32_t w, uint64_t sku, uint32_t units) {
    wire::StockWarehouse r{};
    r.operation = wire::kStockWarehouse;
    r.units = units;
    r.warehouse_id = w;
    r.sku_id = sku;
    c.push_back(wire::ToCommand(r));
  };
  for (uint32_t m = 1; m <= s_.merchants; m++) {
    const bool overseas = IsOverseas(m);
    for (uint32_t k = 0; k < s_.skus_per_merchant; k++) {
      const uint64_t sku = uint64_t(m) * kSkuStride + k + 1;
      // Two warehouses each hold all of the SKU's stock: allocation picks the nearer.
      const uint32_t pool = overseas ? s_.bonded_warehouses : normal;
      const uint32_t base = overseas ? normal : 0;
      const uint32_t a = uint32_t(Fmix64(sku) % pool), b = uint32_t(Fmix64(sku + 1) % pool);
      stock(base + a + 1, sku, s_.stock_per_sku);
      if (b != a) stock(base + b + 1, sku, s_.stock_per_sku);
    }
  }
  for (size_t d = 0; d < s_.drops.size(); d++) {
    for (uint32_t w = 1; w <= normal; w++) stock(w, kDropSkuBase + d, s_.drops[d].quota);
  }
  for (size_t i = 0; i < s_.couriers.size(); i++) {
    const CourierSpec& spec = s_.couriers[i];
    wire::CreateCourier r{};
    r.operation = wire::kCreateCourier;
    r.mode = spec.mode;
    r.promised_days = spec.promised_days;
    r.hourly_capacity = spec.hourly_capacity;
    r.courier_id = i + 1;
    std::memcpy(r.name, spec.name.data(), std::min(spec.name.size(), sizeof(r.name)));
    r.cost_fen = spec.cost_fen;
    r.waybill_first = (i + 1) * kWaybillStride;
    r.waybill_count = kWaybillStride;
    c.push_back(wire::ToCommand(r));
    wire::SetCoverage cover{};
    cover.operation = wire::kSetCoverage;
    cover.courier_id = i + 1;
    for (uint32_t region = 1; region <= s_.regions && region < wire::kCoverageBlockRegions; region++) {
      cover.bits[region / 64] |= uint64_t{1} << (region % 64);
    }
    c.push_back(wire::ToCommand(cover));
  }
  ELEVEN_RETURN_IF_ERROR(c.status());

  // Money: every buyer's wallet; credit limits for instalments; merchants' credit lines.
  for (uint64_t b = 1; b <= s_.buyers; b++) {
    wire::LedgerCommand l{};
    l.party_transfer = {wire::kDeposit, {}, b, b, 1 + int64_t(Fmix64(b) % uint64_t(s_.wallet_balance_max_fen)), {}};
    c.push_back(wire::AsCommand(l));
    wire::LedgerCommand limit{};
    limit.set_buyer_credit_limit = {wire::kSetBuyerCreditLimit, {}, b, s_.credit_limit_fen, {}};
    c.push_back(wire::AsCommand(limit));
  }
  for (uint32_t m = 1; m <= s_.merchants; m++) {
    if (double(Fmix64(m * 3) >> 11) * 0x1.0p-53 >= s_.merchant_credit_share) continue;
    wire::LedgerCommand line{};
    line.set_merchant_credit_line.operation = wire::kSetMerchantCreditLine;
    line.set_merchant_credit_line.withhold_bp = s_.merchant_credit_withhold_bp;
    line.set_merchant_credit_line.merchant_id = m;
    line.set_merchant_credit_line.limit_fen = s_.merchant_credit_line_fen;
    c.push_back(wire::AsCommand(line));
    wire::LedgerCommand draw{};
    draw.party_transfer = {wire::kDrawDown, {}, kDrawdownTransferBase + m, m,
                           int64_t(double(s_.merchant_credit_line_fen) * s_.merchant_credit_draw_share), {}};
    c.push_back(wire::AsCommand(draw));
  }
  ELEVEN_RETURN_IF_ERROR(c.Finish());
  setup_.reset();  // every chunk checked: the backend is done with them
  return s_.presale ? Deposits() : Status::Ok();
}

// The day's coupons, created the day before: the platform's (valid all day), a live-room
// coupon of each drop's shop (while the drop is open, for its orders) and the shops'.
void Festival::SetupCoupons(SetupStream& c) {
  if (!s_.coupons) return;
  const uint64_t day_end_us = kDayStartUs + 86400 * kSecondUs;
  auto add = [&](const CouponInfo& info, const std::string& line) {
    coupons_.push_back(info);
    if (info.line == coupon_lines_.size()) coupon_lines_.push_back(line);
  };
  for (size_t p = 0; p < s_.platform_coupons.size(); p++) {
    const PlatformCouponSpec& spec = s_.platform_coupons[p];
    const bool fixed = spec.kind == wire::CouponKind::kFixed;
    const uint32_t count = PlatformCouponCount(s_, spec);
    c.push_back(wire::MakeCreateCoupon(p + 1, 0, spec.kind, spec.amount_fen, spec.threshold_fen,
                                       count, kDayStartUs, day_end_us));
    add({p + 1, uint32_t(p), spec.amount_fen, fixed ? spec.amount_fen + 1 : spec.threshold_fen,
         count},
        spec.name);
  }
  for (size_t d = 0; d < s_.drops.size(); d++) {
    const DropSpec& drop = s_.drops[d];
    const uint64_t opens = kDayStartUs + uint64_t(drop.opens_at_s * kSecondUs);
    const uint64_t closes =
        opens + uint64_t(drop.demand_seconds * kSecondUs) + 900 * kSecondUs;  // as the drop's
    const int64_t amount =
        std::max<int64_t>(1, int64_t(double(drop.price_fen) * s_.live_room_discount_share));
    const uint32_t count = LiveRoomCouponCount(s_, drop);
    c.push_back(wire::MakeCreateCoupon(kLiveRoomCouponBase + d, DropMerchant(d),
                                       wire::CouponKind::kFixed, amount, 0, count, opens, closes,
                                       drop_ids_[d]));
    live_room_coupon_.push_back(uint32_t(coupons_.size()));
    add({kLiveRoomCouponBase + d, uint32_t(coupon_lines_.size()), amount, amount + 1, count},
        "live room: " + drop.name);
  }
  shop_coupon_.assign(s_.merchants + 1, UINT32_MAX);
  const uint32_t shop_line = uint32_t(coupon_lines_.size());
  for (uint32_t m = 1; m <= s_.merchants; m++) {
    if (!ShopHasCoupon(s_, m)) continue;
    const uint32_t count = ShopCouponCount(s_);
    c.push_back(wire::MakeCreateCoupon(kShopCouponBase + m, m, wire::CouponKind::kThreshold,
                                       s_.shop_coupon_amount_fen, s_.shop_coupon_threshold_fen,
                                       count, kDayStartUs, day_end_us));
    shop_coupon_[m] = uint32_t(coupons_.size());
    add({kShopCouponBase + m, shop_line, s_.shop_coupon_amount_fen, s_.shop_coupon_threshold_fen,
         count},
        "shop coupons");
  }
  platform_tried_.assign(s_.buyers + 1, 0);
  static_assert(kPlatformCouponsMax <= 8, "platform_tried_ keeps a byte per buyer");
}

// Pre-sales of the chosen catalog SKUs: part of their stock, at a pre-sale price, with an
// inflated deposit paid in a window that ends at 00:00, and the balance from 00:00.
void Festival::SetupPresales(SetupStream& c) {
  if (!s_.presale) return;
  for (uint32_t m = 1; m <= s_.merchants; m++) {
    for (uint32_t k = 0; k < s_.skus_per_merchant; k++) {
      const uint64_t sku = uint64_t(m) * kSkuStride + k + 1;
      if (!IsPresaleSku(s_, sku)) continue;
      PresaleInfo p{
          sku, std::max<int64_t>(1, int64_t(double(PriceOf(sku)) * s_.presale_price_share)), 0, 0,
          std::max<uint32_t>(1, uint32_t(double(s_.stock_per_sku) * s_.presale_quota_share))};
      p.deposit_fen = std::max<int64_t>(1, int64_t(double(p.price_fen) * s_.presale_deposit_share));
      p.deposit_value_fen = std::min<int64_t>(
          p.price_fen - 1, int64_t(double(p.deposit_fen) * s_.presale_deposit_inflation));
      if (p.deposit_value_fen < p.deposit_fen || p.quota > s_.stock_per_sku)
        continue;  // a price too low to split
      wire::Command command{};
      wire::CreatePresale& r = command.create_presale;
      r.operation = wire::Operation::kCreatePresale;
      r.per_buyer_limit = kDepositUnitsMax;
      r.presale_id = sku;
      r.sku_id = sku;
      r.price_fen = p.price_fen;
      r.deposit_fen = p.deposit_fen;
      r.deposit_value_fen = p.deposit_value_fen;
      r.quota = p.quota;
      r.deposit_starts_us = kDayStartUs - kDepositWindowUs;
      r.deposit_ends_us = kDayStartUs;
      r.balance_starts_us = kDayStartUs;
      r.balance_ends_us = kDayStartUs + uint64_t(s_.presale_balance_ends_at_s * kSecondUs);
      c.push_back(command);
      presales_.push_back(p);
    }
  }
}

// The day before, from 23:30: the pre-sale deposits, each depositing buyer's on one pre-sale,
// by wallet or card. A deposit may be refused (a thin wallet, the quota gone): counted by
// code. Then each buyer who paid one decides when to pay the balance, from 00:00 (the
// midnight surge), or never (the deposit is forfeited when the window ends).
Status Festival::Deposits() {
  Rng rng{s_.seed ^ 0xDE9051700000ull};  // its own stream: the day's draws stay as they were
  const double wallet_share =
      s_.method_shares[0] / std::max(1e-9, s_.method_shares[0] + s_.method_shares[1]);
  for (uint64_t b = 1; b <= s_.buyers && !presales_.empty(); b++) {
    if (rng.Unit() >= s_.presale_buyer_share) continue;
    const uint32_t presale = uint32_t(rng.Below(presales_.size()));
    const uint16_t quantity = uint16_t(1 + rng.Below(kDepositUnitsMax));
    const auto method =
        rng.Unit() < wallet_share ? wire::PaymentMethod::kBalance : wire::PaymentMethod::kCard;
    deposits_.push_back({b, presale, quantity, uint8_t(method)});
  }
  setup_ = std::make_unique<SetupStream>(backend_.get(), kDepositsAtUs,
                                         [this](uint64_t i, const wire::Result& r) {
                                           ELEVEN_ASSERT(i < deposits_.size());
                                           if (r.code == wire::Code::ok) {
                                             deposits_[i].paid = true;
                                           } else {
                                             deposits_refused_by_code_[r.code]++;
                                           }
                                         });
  for (const DepositPlan& d : deposits_) {
    wire::Command command{};
    wire::PayDeposit& r = command.pay_deposit;
    r.operation = wire::Operation::kPayDeposit;
    r.payment_method = d.method;
    r.quantity = d.quantity;
    r.presale_id = presales_[d.presale].sku;
    r.buyer_id = d.buyer;
    setup_->push_back(command);
  }
  ELEVEN_RETURN_IF_ERROR(setup_->Finish());
  setup_.reset();
  const uint64_t balance_ends_us = uint64_t(s_.presale_balance_ends_at_s * kSecondUs);
  for (uint32_t i = 0; i < deposits_.size(); i++) {
    if (!deposits_[i].paid || rng.Unit() < s_.presale_forfeit_share) continue;
    const uint64_t at_us = uint64_t(rng.Exponential(s_.presale_balance_delay_mean_s) * kSecondUs);
    const size_t method = rng.Pick(s_.method_shares);
    const uint8_t periods =
        method >= 2 ? s_.instalment_periods[rng.Pick(s_.instalment_period_shares)] : 0;
    if (at_us >= balance_ends_us) continue;  // too late: forfeited with the unpaid ones
    Push({at_us, 0, Kind::kBalance, uint8_t(method + 1), periods, 0, i});
  }
  return Status::Ok();
}

// Adds the tick's commands: ordinary orders along the curve, drop orders, due events.
void Festival::GenerateTick(uint64_t tick_start_us, uint64_t tick_us) {
  const double t_s = double(tick_start_us) / kSecondUs;
  const double dt_s = double(tick_us) / kSecondUs;
  order_carry_ += s_.OrdersPerSecondAt(t_s) * dt_s;
  for (; order_carry_ >= 1; order_carry_ -= 1) {
    const uint64_t buyer = 1 + rng_.Below(s_.buyers);
    const uint32_t merchant = PickMerchant();
    OrderInfo info{buyer, merchant, TierOf(buyer), RegionOf(buyer), -1};
    wire::Command c = wire::MakePlaceOrder(++key_counter_, merchant, buyer, info.region, info.tier, {});
    wire::PlaceOrder& o = c.place_order;
    o.line_count = uint8_t(1 + rng_.Below(3));
    uint32_t picks[64];
    for (uint32_t k = 0; k < s_.skus_per_merchant; k++) picks[k] = k;
    o.line_count = uint8_t(std::min<uint32_t>(o.line_count, s_.skus_per_merchant));
    for (int l = 0; l < o.line_count; l++) {
      const uint32_t r = uint32_t(l + rng_.Below(s_.skus_per_merchant - l));
      std::swap(picks[l], picks[r]);
      o.sku_id[l] = uint64_t(merchant) * kSkuStride + picks[l] + 1;
      o.quantity[l] = uint16_t(1 + rng_.Below(2));
    }
    if (s_.coupons && rng_.Unit() < s_.coupon_order_share) {
      int64_t value_fen = 0;
      for (int l = 0; l < o.line_count; l++) value_fen += PriceOf(o.sku_id[l]) * o.quantity[l];
      if (StartHunt(c, info, Kind::kOrder, value_fen))
        continue;  // ordered once the claims are answered
    }
    SendOrder(c, info, Kind::kOrder, tick_start_us);
  }
  for (size_t d = 0; d < s_.drops.size(); d++) {
    const DropSpec& drop = s_.drops[d];
    if (t_s < drop.opens_at_s || t_s >= drop.opens_at_s + drop.demand_seconds) continue;
    for (drop_carry_[d] += drop.demand_per_s * dt_s; drop_carry_[d] >= 1; drop_carry_[d] -= 1) {
      const uint64_t buyer = 1 + rng_.Below(s_.buyers);
      OrderInfo info{buyer, DropMerchant(d), TierOf(buyer), RegionOf(buyer), int32_t(d)};
      const wire::Command c =
          wire::MakePlaceOrder(++key_counter_, info.merchant, buyer, info.region, info.tier,
                               {{kDropSkuBase + d, 1}}, drop_ids_[d]);
      // Some of the room claim its coupon first, and lose a moment in the race for it.
      if (s_.coupons && rng_.Unit() < s_.live_room_claim_share &&
          StartHunt(c, info, Kind::kDropOrder, drop.price_fen)) {
        continue;
      }
      SendOrder(c, info, Kind::kDropOrder, tick_start_us);
    }
  }
  const uint64_t tick_end_us = tick_start_us + tick_us;
  due_.clear();
  events_.PopBefore(tick_end_us, &due_);
  for (const Event& e : due_) {
    switch (e.kind) {
      case Kind::kRetry:
        AddCommand(retry_commands_[e.info], {Kind::kRetry, e.info, 0, 0});
        tick_reads_.order_keys.push_back(retry_commands_[e.info].place_order.idempotency_key);
        break;
      case Kind::kPay:
        AddCommand(wire::MakePayOrder(e.id, e.amount_fen, e.method, e.periods), {Kind::kPay, e.info, e.method, e.periods});
        tick_reads_.shipment_keys.push_back(e.id);
        break;
      case Kind::kCancel:
        AddCommand(wire::MakeCancelOrder(e.id), {Kind::kCancel, e.info, 0, 0});
        break;
      case Kind::kTrack: {
        wire::TrackParcel r{};
        r.operation = wire::kTrackParcel;
        r.event = wire::ParcelState(e.parcel_state);
        r.waybill = e.id;
        AddCommand(wire::ToCommand(r), {Kind::kTrack, e.info, 0, e.parcel_state});
        break;
      }
      case Kind::kAfterSales: {
        wire::LedgerCommand c{};
        c.after_sales_refund = {wire::kAfterSalesRefund, {}, kAfterSalesRefundBase + ++after_sales_ids_, e.id,
                                e.amount_fen, {}};
        AddCommand(wire::AsCommand(c), {Kind::kAfterSales, e.info, 0, 0});
        break;
      }
      case Kind::kCouponOrder:
        PlaceHunted(e.info, tick_start_us);
        break;
      case Kind::kBalance:
        AddBalance(e);
        break;
      case Kind::kCheckShipment:  // the shipment is read after this tick, and looked at when it is released
        tick_reads_.checks.emplace_back(e.id, e.at_us);
        tick_reads_.check_amounts.push_back(e.amount_fen);
        tick_reads_.shipment_keys.push_back(e.id);
        break;
      default:
        ELEVEN_ASSERT(false && "unexpected event kind");
    }
  }
}

// An order goes out: remembered for the breakdowns and the buyer's next step; a share of
// the ordinary ones is sent again with the same key a moment later.
void Festival::SendOrder(const wire::Command& c, const OrderInfo& info, Kind kind,
                         uint64_t tick_start_us) {
  ELEVEN_ASSERT(kind == Kind::kOrder || kind == Kind::kDropOrder);
  order_info_.push_back(info);
  AddCommand(c, {kind, uint32_t(order_info_.size() - 1), 0, 0});
  if (kind == Kind::kOrder && rng_.Unit() < s_.retry_share) {
    retry_commands_.push_back(c);
    Push({tick_start_us + 300'000 + rng_.Below(2 * kSecondUs), 0, Kind::kRetry, 0, 0, 0,
          uint32_t(retry_commands_.size() - 1)});
  }
}

// The buyer of `c` (a basket worth `value_fen` at list or live price) claims the coupons it
// could use and has not claimed before: a drop order its live room's; an ordinary order its
// shop's (if the basket reaches the threshold) and the first platform coupon whose threshold
// what is left reaches. False when there is none: the order goes out as it is.
bool Festival::StartHunt(const wire::Command& c, const OrderInfo& info, Kind kind,
                         int64_t value_fen) {
  uint32_t picked[wire::kOrderCouponCountMax];
  uint32_t count = 0;
  auto untried = [&](uint32_t coupon) {
    return tried_.count((uint64_t(coupon) << 32) | info.buyer) == 0;
  };
  if (kind == Kind::kDropOrder) {
    const uint32_t coupon = live_room_coupon_[size_t(info.drop)];
    if (untried(coupon)) picked[count++] = coupon;
  } else {
    const uint32_t shop = shop_coupon_[info.merchant];
    if (shop != UINT32_MAX && value_fen >= coupons_[shop].threshold_fen && untried(shop)) {
      picked[count++] = shop;
      value_fen -= coupons_[shop].amount_fen;
    }
    for (uint32_t p = 0; p < s_.platform_coupons.size(); p++) {
      if ((platform_tried_[info.buyer] >> p & 1) == 0 && value_fen >= coupons_[p].threshold_fen) {
        picked[count++] = p;
        break;
      }
    }
  }
  if (count == 0) return false;
  uint32_t h = uint32_t(hunts_.size());
  if (!free_hunts_.empty()) {
    h = free_hunts_.back();
    free_hunts_.pop_back();
  } else {
    hunts_.emplace_back();
  }
  Hunt& hunt = hunts_[h];
  hunt = Hunt{c, info, kind, uint8_t(count), 0, {}};
  for (uint32_t k = 0; k < count; k++) {
    const uint32_t coupon = picked[k];
    hunt.coupon[k] = coupon;
    // Each buyer claims a coupon once: a second claim would only replay the first.
    if (coupon < s_.platform_coupons.size()) {
      platform_tried_[info.buyer] |= uint8_t(1u << coupon);
    } else {
      tried_.insert((uint64_t(coupon) << 32) | info.buyer);
    }
    coupons_[coupon].claims++;
    AddCommand(wire::MakeClaimCoupon(coupons_[coupon].id, info.buyer),
               {Kind::kClaim, h, uint8_t(k), 0});
  }
  return true;
}

// A hunt's claims are answered: the order goes out with the coupons that were granted.
void Festival::PlaceHunted(uint32_t h, uint64_t tick_start_us) {
  Hunt& hunt = hunts_[h];
  ELEVEN_ASSERT(hunt.claims_left == 0);
  wire::Command c = hunt.order;
  OrderInfo info = hunt.info;
  for (int k = 0; k < wire::kOrderCouponCountMax; k++) {
    if ((hunt.got_mask >> k & 1) == 0) continue;
    wire::AddCoupon(c, coupons_[hunt.coupon[k]].id);
    info.coupons++;
  }
  ELEVEN_ASSERT(c.place_order.line_count + c.place_order.coupon_count <= wire::kOrderLineCountMax);
  free_hunts_.push_back(h);
  SendOrder(c, info, hunt.kind, tick_start_us);
}

void Festival::OnClaimed(const Meta& meta, const wire::Result& r) {
  Hunt& hunt = hunts_[meta.info];
  ELEVEN_ASSERT(hunt.claims_left > 0 && meta.method < wire::kOrderCouponCountMax);
  CouponInfo& coupon = coupons_[hunt.coupon[meta.method]];
  if (r.code == wire::Code::ok) {
    coupon.granted++;
    hunt.got_mask |= uint8_t(1u << meta.method);
  } else if (r.code == wire::Code::coupons_exhausted) {
    coupon.exhausted++;
  } else {
    claims_refused_by_code_[r.code]++;
  }
  if (--hunt.claims_left != 0) return;
  // The buyer orders a moment after seeing the claims' results; in a live room, at once.
  const double delay_s =
      hunt.kind == Kind::kDropOrder ? 0.2 + rng_.Exponential(0.5) : 1 + rng_.Exponential(3);
  Push({now_us_ + uint64_t(delay_s * kSecondUs), 0, Kind::kCouponOrder, 0, 0, 0, meta.info});
}

// A pre-sale balance: (price - the deposit's value) x quantity, by any method.
void Festival::AddBalance(const Event& e) {
  const DepositPlan& d = deposits_[e.info];
  const PresaleInfo& p = presales_[d.presale];
  wire::Command c{};
  wire::PayBalance& b = c.pay_balance;
  b.operation = wire::Operation::kPayBalance;
  b.payment_method = e.method;
  b.instalment_periods = e.periods;
  b.city_tier = TierOf(d.buyer);
  b.region = RegionOf(d.buyer);
  b.presale_id = p.sku;
  b.buyer_id = d.buyer;
  b.amount_fen = (p.price_fen - p.deposit_value_fen) * d.quantity;
  AddCommand(c, {Kind::kBalance, e.info, e.method, e.periods});
}

void Festival::OnBalance(const Meta& meta, const wire::Result& r) {
  if (r.code != wire::Code::ok) {
    balances_refused_by_code_[r.code]++;
    // A wallet too thin or credit used up: the buyer pays by card instead (once).
    if (meta.method != uint8_t(wire::PaymentMethod::kCard) &&
        (r.code == wire::Code::exceeds_credits || r.code == wire::Code::credit_limit_exceeded)) {
      Push({now_us_ + 5 * kSecondUs, 0, Kind::kBalance, uint8_t(wire::PaymentMethod::kCard), 0, 0,
            meta.info});
    }
    return;
  }
  const DepositPlan& d = deposits_[meta.info];
  const PresaleInfo& p = presales_[d.presale];
  // The order the balance made, paid at once: what the buyer paid in all.
  const int64_t total_fen = (p.deposit_fen + p.price_fen - p.deposit_value_fen) * d.quantity;
  balances_paid_++;
  gmv_gross_fen_ += total_fen;
  gmv_net_fen_ += total_fen;
  paid_by_method_[meta.method - 1]++;
  if (meta.periods != 0) instalments_by_periods_[meta.periods]++;
  // Fulfilment allocated it at payment: its parcels go out once its shipment is read.
  Push({now_us_ + kSecondUs, 0, Kind::kCheckShipment, 0, 0, 0, 0, r.id, total_fen});
}

Status Festival::SubmitPending(uint64_t at_us, uint64_t tick) {
  size_t at = 0;
  while (at < pending_.commands.size()) {
    const size_t count = std::min<size_t>(kBatchMax, pending_.commands.size() - at);
    Batch batch;
    if (!free_batches_.empty()) {
      batch = std::move(free_batches_.back());
      free_batches_.pop_back();
    }
    batch.commands.assign(pending_.commands.begin() + long(at), pending_.commands.begin() + long(at + count));
    batch.meta.assign(pending_.meta.begin() + long(at), pending_.meta.begin() + long(at + count));
    batch.results.resize(count);
    batch.at_us = at_us;
    batch.tick = tick;
    batch.latency_recorded = false;
    batch.submitted_ns = MonotonicNs();
    ELEVEN_RETURN_IF_ERROR(backend_->Submit(batch.commands, kDayStartUs + at_us, batch.results, &batch.ticket));
    commands_applied_ += count;
    last_at_us_ = kDayStartUs + at_us;
    in_flight_.push_back(std::move(batch));  // moving keeps batch.results' storage where it is
    at += count;
  }
  pending_.commands.clear();
  pending_.meta.clear();
  return Status::Ok();
}

// Records the latency of every batch that became durable since the last look: a client
// would get its reply now.
void Festival::NoteDurable() {
  const uint64_t done = backend_->ticket_done(s_.durable);
  const uint64_t now_ns = MonotonicNs();
  for (Batch& batch : in_flight_) {
    if (batch.ticket > done) break;
    if (batch.latency_recorded) continue;
    batch.latency_recorded = true;
    const uint32_t latency_us = uint32_t((now_ns - batch.submitted_ns) / 1000);
    for (const Meta& m : batch.meta) {
      if (m.kind == Kind::kOrder || m.kind == Kind::kDropOrder) {
        latencies_us_.push_back(latency_us);
        bucket_latencies_us_.push_back(latency_us);
      }
    }
  }
}

namespace {

std::string SecondsText(uint64_t ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", double(ns) / 1e9);
  return text;
}

// Keys sorted and unique, so a look-up asks for each once.
void Unique(std::vector<uint64_t>* keys) {
  std::sort(keys->begin(), keys->end());
  keys->erase(std::unique(keys->begin(), keys->end()), keys->end());
}

}  // namespace

// Asks for what the tick's results will need (TickReads), right after its batches.
void Festival::RequestReads(uint64_t tick) {
  TickReads& reads = tick_reads_;
  if (reads.empty()) return;
  reads.tick = tick;
  Unique(&reads.shipment_keys);
  Unique(&reads.order_keys);
  if (!reads.shipment_keys.empty()) {
    reads.shipments_token = backend_->RequestLookup(protocol::Operation::kGetShipment, reads.shipment_keys);
  }
  if (!reads.order_keys.empty()) {
    reads.orders_token = backend_->RequestLookup(protocol::Operation::kGetOrderByKey, reads.order_keys);
  }
  reads_in_flight_.push_back(std::move(reads));
  reads = TickReads{};
}

// Buyers learn the results of the batches sent at ticks up to `tick_last`, waiting for them
// to be durable if they are not yet. Which results are known at which tick is fixed by the
// scenario, not by how fast the disk was: that keeps the day deterministic. Each tick is
// released with the reads asked right after it (shipments of its payments and checks, its
// retried orders); its shipment checks are looked at after its results.
Status Festival::ReleaseUpTo(uint64_t tick_last) {
  NoteDurable();
  for (const Batch& batch : in_flight_) {
    if (batch.tick > tick_last) break;
    ELEVEN_RETURN_IF_ERROR(backend_->Wait(batch.ticket, s_.durable));
  }
  NoteDurable();
  for (;;) {
    uint64_t tick = UINT64_MAX;
    if (!in_flight_.empty()) tick = in_flight_.front().tick;
    if (!reads_in_flight_.empty()) tick = std::min(tick, reads_in_flight_.front().tick);
    if (tick == UINT64_MAX || tick > tick_last) break;
    released_ = nullptr;
    if (!reads_in_flight_.empty() && reads_in_flight_.front().tick == tick) {
      ELEVEN_RETURN_IF_ERROR(TakeReads(reads_in_flight_.front()));
      released_ = &reads_in_flight_.front();
    }
    while (!in_flight_.empty() && in_flight_.front().tick == tick) {
      Process(in_flight_.front());
      free_batches_.push_back(std::move(in_flight_.front()));
      in_flight_.pop_front();
    }
    if (released_ != nullptr) {
      for (size_t k = 0; k < released_->checks.size(); k++) {
        const auto [order_id, at_us] = released_->checks[k];
        ScheduleParcels(order_id, released_->check_amounts[k], at_us, false);
      }
      released_ = nullptr;
      reads_in_flight_.pop_front();
    }
  }
  if (!parcel_keys_.empty()) {
    Unique(&parcel_keys_);
    parcel_reads_.push_back({backend_->RequestLookup(protocol::Operation::kGetParcel, std::move(parcel_keys_)), tick_last});
    parcel_keys_.clear();
  }
  return TakeParcels(tick_last);
}

Status Festival::TakeReads(const TickReads& reads) {
  shipments_answer_ = {};
  orders_answer_ = {};
  if (reads.shipments_token != 0) ELEVEN_RETURN_IF_ERROR(backend_->TakeLookup(reads.shipments_token, &shipments_answer_));
  if (reads.orders_token != 0) ELEVEN_RETURN_IF_ERROR(backend_->TakeLookup(reads.orders_token, &orders_answer_));
  return Status::Ok();
}

// Tallies the parcels asked for at earlier releases: by now the engine has answered them
// (a later tick's batch was waited for), so nothing waits here; the last release takes all.
Status Festival::TakeParcels(uint64_t tick_last) {
  while (!parcel_reads_.empty() &&
         (tick_last == UINT64_MAX || parcel_reads_.front().released_tick + o_.reply_lag_ticks <= tick_last)) {
    LookupAnswer answer;
    ELEVEN_RETURN_IF_ERROR(backend_->TakeLookup(parcel_reads_.front().token, &answer));
    parcel_reads_.pop_front();
    for (size_t i = 0; i < answer.codes.size(); i++) {
      if (answer.codes[i] != wire::Code::ok) continue;
      wire::ParcelRecord parcel;
      std::memcpy(&parcel, answer.records.data() + i * sizeof(parcel), sizeof(parcel));
      warehouse_parcels_[parcel.warehouse_id]++;
      courier_parcels_[parcel.waybill / kWaybillStride - 1]++;
    }
  }
  return Status::Ok();
}

// One record of the tick under release, from what was asked right after it.
// A ShipmentRecord is a get_shipment read, an OrderRecord a get_order_by_key read.
template <typename Record>
wire::Code Festival::Look(uint64_t key, Record* record) const {
  static_assert(std::is_same_v<Record, wire::ShipmentRecord> || std::is_same_v<Record, wire::OrderRecord>);
  ELEVEN_ASSERT(released_ != nullptr);
  constexpr bool shipment = std::is_same_v<Record, wire::ShipmentRecord>;
  const std::vector<uint64_t>& keys = shipment ? released_->shipment_keys : released_->order_keys;
  const LookupAnswer& answer = shipment ? shipments_answer_ : orders_answer_;
  const auto it = std::lower_bound(keys.begin(), keys.end(), key);
  ELEVEN_ASSERT(it != keys.end() && *it == key);  // every look-up of a release was asked with its tick
  const size_t i = size_t(it - keys.begin());
  ELEVEN_ASSERT(answer.codes.size() == keys.size() && answer.records.size() == keys.size() * sizeof(Record));
  std::memcpy(record, answer.records.data() + i * sizeof(Record), sizeof(Record));
  return answer.codes[i];
}

void Festival::Process(const Batch& batch) {
  for (size_t i = 0; i < batch.commands.size(); i++) {
    const Meta& meta = batch.meta[i];
    const wire::Result& r = batch.results[i];
    switch (meta.kind) {
      case Kind::kOrder:
      case Kind::kDropOrder:
        OnPlaced(meta, r, batch.at_us);
        break;
      case Kind::kRetry: {
        // The same key again: the engine must answer with the order's first result.
        retries_++;
        wire::OrderRecord first{};
        const uint64_t key = retry_commands_[meta.info].place_order.idempotency_key;
        // orders_full is the one refusal that is not remembered (the attempt had no slot), so
        // a retry may meet it after an accepted first send: back-pressure, not a new answer.
        const bool same = r.code == wire::Code::orders_full ||
                          (Look(key, &first) == wire::Code::ok && first.code == r.code &&
                           first.order_id == r.id && first.total_fen == r.amount_fen);
        retry_mismatches_ += !same;
        break;
      }
      case Kind::kPay:
        OnPaid(meta, r, batch.at_us);
        break;
      case Kind::kClaim:
        OnClaimed(meta, r);
        break;
      case Kind::kBalance:
        OnBalance(meta, r);
        break;
      case Kind::kCancel:
        cancelled_ += r.code == wire::Code::ok;
        break;
      case Kind::kTrack:
        ELEVEN_ASSERT(r.code == wire::Code::ok);  // the courier only sends allowed events
        break;
      case Kind::kAfterSales:
        if (r.code == wire::Code::ok) {
          after_sales_refunds_++;
          after_sales_refunded_fen_ += r.amount_fen;
        } else {
          after_sales_refused_++;  // e.g. refund_unfundable: the merchant withdrew or owes its line
        }
        break;
      case Kind::kSetup:
      case Kind::kCheckShipment:
      case Kind::kCouponOrder:  // sent as kOrder or kDropOrder
        break;
    }
  }
}

void Festival::OnPlaced(const Meta& meta, const wire::Result& r, uint64_t at_us) {
  orders_sent_++;
  orders_in_bucket_++;
  const OrderInfo& info = order_info_[meta.info];
  if (r.code != wire::Code::ok) {
    rejected_++;
    rejected_by_code_[r.code]++;
    return;
  }
  accepted_++;
  gmv_gross_fen_ += r.amount_fen;
  if (info.coupons != 0) {
    coupon_orders_++;
    coupons_named_ += info.coupons;
  }
  Breakdown& tier = by_tier_[info.tier - 1];
  tier.orders++;
  tier.gmv_fen += r.amount_fen;
  if (buyer_seen_[info.buyer] == 0) {
    buyer_seen_[info.buyer] = 1;
    tier.buyers++;
  }
  by_region_[info.region].orders++;
  by_region_[info.region].gmv_fen += r.amount_fen;
  Breakdown& country = by_country_[CountryIndexOf(info.merchant)];
  country.orders++;
  country.gmv_fen += r.amount_fen;
  // The buyer's next step: cancel, pay after a delay (some too late), or walk away.
  const double u = rng_.Unit();
  if (u < s_.cancel_share) {
    Push({at_us + uint64_t(rng_.Exponential(s_.pay_delay_mean_s) * kSecondUs), 0, Kind::kCancel, 0, 0, 0, meta.info, r.id});
  } else if (u < s_.cancel_share + s_.pay_share) {
    const size_t method = rng_.Pick(s_.method_shares);
    const uint8_t periods = method >= 2 ? s_.instalment_periods[rng_.Pick(s_.instalment_period_shares)] : 0;
    const double delay_s = meta.kind == Kind::kDropOrder ? 2 + rng_.Exponential(8) : rng_.Exponential(s_.pay_delay_mean_s);
    Push({at_us + uint64_t(delay_s * kSecondUs), 0, Kind::kPay, uint8_t(method + 1), periods, 0, meta.info, r.id,
          r.amount_fen});
  }
}

void Festival::OnPaid(const Meta& meta, const wire::Result& r, uint64_t at_us) {
  if (r.code != wire::Code::ok) {
    pay_refused_++;
    // A wallet too thin or credit used up: the buyer pays by card instead (once).
    if (meta.method != uint8_t(wire::PaymentMethod::kCard) && r.code != wire::Code::order_expired &&
        r.code != wire::Code::order_not_pending) {
      Push({at_us + 5 * kSecondUs, 0, Kind::kPay, uint8_t(wire::PaymentMethod::kCard), 0, 0, meta.info, r.id, r.amount_fen});
    }
    return;
  }
  paid_++;
  gmv_net_fen_ += r.amount_fen;
  paid_by_method_[meta.method - 1]++;
  if (meta.periods != 0) instalments_by_periods_[meta.periods]++;
  const OrderInfo& info = order_info_[meta.info];
  const bool same_day = info.tier <= 2 && rng_.Unit() < s_.same_day_share * 2.5;
  ScheduleParcels(r.id, r.amount_fen, at_us, same_day);
}

// The couriers' side: each parcel moves through its states after realistic delays. A parcel
// still in the backlog is looked at again an hour later.
void Festival::ScheduleParcels(uint64_t order_id, int64_t amount_fen, uint64_t at_us, bool same_day) {
  wire::ShipmentRecord shipment{};
  if (Look(order_id, &shipment) != wire::Code::ok) return;
  if (shipment.parcel_count == 0) {
    // Backlogged: ask again after the hour rolls over (no command, just a later look).
    Push({at_us + 3600 * kSecondUs, 0, Kind::kCheckShipment, 0, 0, 0, 0, order_id, amount_fen});
    return;
  }
  // The buyer sends the whole order back (every parcel: exception, then returned), or keeps
  // it and, now and then, gets part of the price back from the merchant after delivery.
  if (rng_.Unit() < s_.return_share) {
    ScheduleReturn(shipment, amount_fen, at_us);
    return;
  }
  using wire::ParcelState;
  uint64_t delivered_at_us = 0;  // the last parcel's delivery; 0 if some is not within the day
  bool all_delivered = true;
  for (uint8_t p = 0; p < shipment.parcel_count; p++) {
    const uint64_t waybill = shipment.waybill[p];
    parcel_keys_.push_back(waybill);  // tallied by warehouse and courier when its read is in
    uint64_t t = at_us + uint64_t((1800 + rng_.Exponential(5400)) * kSecondUs);
    const double scale = same_day ? 0.25 : 1.0;
    const std::pair<ParcelState, double> steps[] = {
        {ParcelState::kPicked, 0}, {ParcelState::kPacked, 1200}, {ParcelState::kHandedToCourier, 1800},
        {ParcelState::kDepartedHub, 7200 * scale}, {ParcelState::kArrivedHub, 36000 * scale},
        {ParcelState::kOutForDelivery, 14400 * scale}, {ParcelState::kDelivered, 5400 * scale}};
    for (const auto& [state, delay_s] : steps) {
      t += uint64_t(delay_s * kSecondUs);
      if (t >= s_.simulated_seconds * kSecondUs) break;
      Push({t, 0, Kind::kTrack, 0, 0, uint8_t(state), 0, waybill});
      if (state == ParcelState::kDelivered) delivered_at_us = std::max(delivered_at_us, t);
    }
    all_delivered = all_delivered && t < s_.simulated_seconds * kSecondUs;
  }
  if (!all_delivered || rng_.Unit() >= s_.after_sales_share) return;
  // Delivery settles the order; the refund comes later, within the after-sales window.
  const uint64_t refund_at_us = delivered_at_us + kSecondUs + uint64_t(rng_.Exponential(s_.after_sales_delay_mean_s) * kSecondUs);
  const int64_t refund_fen = std::max<int64_t>(1, int64_t(double(amount_fen) * s_.after_sales_fraction));
  if (refund_at_us < s_.simulated_seconds * kSecondUs) {
    Push({refund_at_us, 0, Kind::kAfterSales, 0, 0, 0, 0, order_id, refund_fen});
  }
}

// Every parcel of the order goes out and comes back: picked, packed, handed over, departed,
// then an exception and the return. The engine refunds the whole order when the last one is
// back, so the refund is counted here, for a return that completes within the day.
void Festival::ScheduleReturn(const wire::ShipmentRecord& shipment, int64_t amount_fen, uint64_t at_us) {
  using wire::ParcelState;
  const uint64_t day_end_us = s_.simulated_seconds * kSecondUs;
  bool complete = true;
  for (uint8_t p = 0; p < shipment.parcel_count; p++) {
    const uint64_t waybill = shipment.waybill[p];
    parcel_keys_.push_back(waybill);
    uint64_t t = at_us + uint64_t((1800 + rng_.Exponential(5400)) * kSecondUs);
    const std::pair<ParcelState, double> steps[] = {
        {ParcelState::kPicked, 0},         {ParcelState::kPacked, 1200},   {ParcelState::kHandedToCourier, 1800},
        {ParcelState::kDepartedHub, 7200}, {ParcelState::kException, 14400}, {ParcelState::kReturned, 3600}};
    for (const auto& [state, delay_s] : steps) {
      t += uint64_t(delay_s * kSecondUs);
      if (t >= day_end_us) break;
      Push({t, 0, Kind::kTrack, 0, 0, uint8_t(state), 0, waybill});
    }
    complete = complete && t < day_end_us;
  }
  if (complete) {
    orders_returned_++;
    returns_refunded_fen_ += amount_fen;
  }
}

namespace {

double Percentile(std::vector<uint32_t>& values, double q) {
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1, size_t(q * double(values.size())));
  std::nth_element(values.begin(), values.begin() + long(at), values.end());
  return values[at];
}

}  // namespace

// Closes the timeline bucket that ends at `until_us` (per second for the first ten minutes,
// per minute after), with cumulative figures read from the engine.
void Festival::RecordTimeline(uint64_t until_us, bool final) {
  const uint64_t width_us = double(bucket_start_us_) < kFirstMinutesS * kSecondUs ? kSecondUs : 60 * kSecondUs;
  if (!final && until_us < bucket_start_us_ + width_us) return;
  const double span_s = double(until_us - bucket_start_us_) / kSecondUs;
  if (span_s <= 0) return;
  const double rate = double(orders_in_bucket_) / span_s;
  const double t_s = double(until_us) / kSecondUs;
  if (rate > peak_rate_) {
    peak_rate_ = rate;
    peak_at_s_ = t_s;
  }
  // Parcels dispatched as of here, filled in at the end (remotely, read without waiting).
  timeline_figures_.push_back(backend_->RequestFigures());
  timeline_.push_back({t_s, rate, accepted_, gmv_gross_fen_, gmv_net_fen_, 0});
  if (!bucket_latencies_us_.empty()) {
    latency_timeline_.push_back({t_s, Percentile(bucket_latencies_us_, 0.5), Percentile(bucket_latencies_us_, 0.99),
                                 Percentile(bucket_latencies_us_, 0.999)});
  }
  bucket_latencies_us_.clear();
  orders_in_bucket_ = 0;
  bucket_start_us_ = until_us;
}

void Festival::Report(double wall_s) {
  if (!o_.progress) return;
  const uint64_t now = MonotonicNs();
  if (now - last_progress_ns_ < 250'000'000 && wall_s >= 0) return;
  FestivalProgress p;
  p.simulated_s = double(last_at_us_ - std::min(last_at_us_, kDayStartUs)) / kSecondUs;
  p.simulated_total_s = double(s_.simulated_seconds);
  p.wall_s = double(now - started_ns_) / 1e9;
  p.orders = orders_sent_;
  p.orders_per_s_wall = last_progress_ns_ ? double(orders_sent_ - last_progress_orders_) / (double(now - last_progress_ns_) / 1e9) : 0;
  p.orders_per_s_sim = s_.OrdersPerSecondAt(p.simulated_s);
  p.gmv_fen = gmv_gross_fen_;
  // The live view shows what was asked at the last report (answered by now: the festival
  // does not wait for the engine to catch up for it); the last view reads now.
  CollectReportReads();
  if (wall_s < 0) {
    RequestReportReads();
    CollectReportReads();
  }
  p.drops = uint32_t(drop_ids_.size());
  p.drops_sold_out = report_sold_out_;
  p.parcels_dispatched = report_dispatched_;
  o_.progress(p);
  last_progress_ns_ = now;
  last_progress_orders_ = orders_sent_;
  if (wall_s >= 0) RequestReportReads();
}

void Festival::RequestReportReads() {
  if (!drop_ids_.empty()) report_drops_token_ = backend_->RequestLookup(protocol::Operation::kGetDrop, drop_ids_);
  report_figures_token_ = backend_->RequestFigures();
}

// The live view only: a failed read keeps the last figures, the day goes on (and fails on
// its own if the backend is really gone).
void Festival::CollectReportReads() {
  if (report_drops_token_ != 0) {
    LookupAnswer answer;
    if (backend_->TakeLookup(report_drops_token_, &answer).ok()) {
      report_sold_out_ = 0;
      for (size_t d = 0; d < answer.codes.size(); d++) {
        wire::DropRecord drop;
        std::memcpy(&drop, answer.records.data() + d * sizeof(drop), sizeof(drop));
        report_sold_out_ += answer.codes[d] == wire::Code::ok && drop.sold_out_at_us != 0;
      }
    }
    report_drops_token_ = 0;
  }
  if (report_figures_token_ != 0) {
    wire::FiguresRecord figures{};
    if (backend_->TakeFigures(report_figures_token_, &figures).ok()) report_dispatched_ = figures.parcels_dispatched;
    report_figures_token_ = 0;
  }
}

// Polls (or, with `wait`, finishes) the background snapshot and keeps its report.
Status Festival::PollSnapshot(bool wait) {
  if (!backend_->snapshot_running()) return Status::Ok();
  bool done = false;
  replica::SnapshotReport report;
  ELEVEN_RETURN_IF_ERROR(backend_->PollSnapshot(wait, &done, &report));
  if (done) {
    snapshot_stall_ms_ = report.stall_ms;
    snapshot_write_ms_ = report.write_ms;
    snapshot_bytes_ = report.size_bytes;
  }
  return Status::Ok();
}

Status Festival::Run(std::string* summary_json) {
  const auto stage = [&](const std::string& text) {
    if (o_.stage) o_.stage(text);
  };
  const uint64_t open_ns = MonotonicNs();
  stage(o_.connect.empty() ? "allocating the engine's tables" : "checking the server");
  ELEVEN_RETURN_IF_ERROR(Open());
  // Merchants' popularity follows a Zipf law (exponent 0.9), as in W1.
  zipf_cdf_.resize(s_.merchants);
  double sum = 0;
  for (uint32_t r = 0; r < s_.merchants; r++) zipf_cdf_[r] = sum += std::pow(double(r + 1), -0.9);
  region_cdf_.resize(s_.regions);
  sum = 0;
  for (uint32_t r = 0; r < s_.regions; r++) region_cdf_[r] = sum += std::pow(double(r + 1), -0.9);
  buyer_seen_.assign(s_.buyers + 1, 0);
  by_region_.assign(s_.regions + 1, Breakdown{});
  courier_parcels_.assign(s_.couriers.size(), 0);
  drop_carry_.assign(s_.drops.size(), 0);
  // What grows with every order is sized once: a doubling in the surge would copy it and
  // fault its new pages in on the festival's thread while the engine waits for batches.
  const double day_orders = DayOrders(s_) * 1.01;
  order_info_.reserve(size_t(day_orders));
  retry_commands_.reserve(size_t(day_orders * s_.retry_share * 1.1) + 1024);
  latencies_us_.reserve(size_t(day_orders));
  const uint64_t setup_ns = MonotonicNs();
  stage("ready in " + SecondsText(setup_ns - open_ns) +
        "; the day before: merchants, SKUs, warehouses, stock, couriers, wallets and credit" +
        std::string(s_.coupons || s_.presale ? ", coupons, pre-sales and their deposits" : ""));
  ELEVEN_RETURN_IF_ERROR(Setup());
  stage("the day before took " + SecondsText(MonotonicNs() - setup_ns) + "; the day begins");

  started_ns_ = MonotonicNs();
  const uint64_t busy_before_ns = backend_->engine_busy_ns();  // the set-up is not the day
  ELEVEN_RETURN_IF_ERROR(RunDay());
  ELEVEN_RETURN_IF_ERROR(PollSnapshot(true));
  const double wall_s = double(MonotonicNs() - started_ns_) / 1e9;
  last_progress_ns_ = 0;
  Report(-1);
  if (retry_mismatches_ != 0) {
    return Status::Corruption(std::to_string(retry_mismatches_) + " retried orders got a different answer than the first time");
  }
  ELEVEN_RETURN_IF_ERROR(Finish());
  day_busy_ns_ = backend_->engine_busy_ns() - busy_before_ns;
  *summary_json = Summary(wall_s);
  return Status::Ok();
}

// The day, tick by tick, then the last replies.
Status Festival::RunDay() {
  const uint64_t tick_us = uint64_t(s_.tick_ms) * 1000;
  const uint64_t end_us = s_.simulated_seconds * kSecondUs;
  // A server snapshots on its own terms: only the embedded replica takes one here.
  bool snapshot_taken = s_.snapshot_at_s < 0 || !backend_->can_snapshot();
  const uint64_t snapshot_at_us = snapshot_taken ? 0 : uint64_t(s_.snapshot_at_s * kSecondUs);
  // Fine ticks while it matters (the surge, the drops), whole seconds in the quiet hours:
  // every tick with work is one log entry, and a quiet day needs no 864,000 of them.
  auto tick_at = [&](uint64_t t_us) {
    if (t_us < kSurgeUs) return tick_us;
    for (const DropSpec& d : s_.drops) {
      if (double(t_us) / kSecondUs >= d.opens_at_s && double(t_us) / kSecondUs < d.opens_at_s + d.demand_seconds) return tick_us;
    }
    return std::max<uint64_t>(tick_us, kSecondUs);
  };
  uint64_t tick = 0;
  for (uint64_t t_us = 0, step = tick_us; t_us < end_us; t_us += step, tick++) {
    step = std::min(tick_at(t_us), end_us - t_us);
    if (s_.realtime) {  // log time follows the wall clock
      const uint64_t due_ns = started_ns_ + t_us * 1000;
      const uint64_t now_ns = MonotonicNs();
      if (due_ns > now_ns) std::this_thread::sleep_for(std::chrono::nanoseconds(due_ns - now_ns));
      // How late the tick starts: real time is kept while this stays within a tick or two.
      realtime_lag_max_ns_ = std::max(realtime_lag_max_ns_, std::max(now_ns, due_ns) - due_ns);
    }
    now_us_ = t_us;
    if (tick >= o_.reply_lag_ticks) ELEVEN_RETURN_IF_ERROR(ReleaseUpTo(tick - o_.reply_lag_ticks));
    GenerateTick(t_us, step);
    if (!pending_.commands.empty()) ELEVEN_RETURN_IF_ERROR(SubmitPending(t_us, tick));
    RequestReads(tick);
    NoteDurable();
    RecordTimeline(t_us + step, false);
    if (!snapshot_taken && t_us >= snapshot_at_us) {
      // A snapshot in the background (midday by default), to show what it costs the engine.
      ELEVEN_RETURN_IF_ERROR(backend_->StartSnapshot());
      snapshot_taken = true;
    }
    ELEVEN_RETURN_IF_ERROR(PollSnapshot(false));
    Report(double(MonotonicNs() - started_ns_) / 1e9);
  }
  ELEVEN_RETURN_IF_ERROR(ReleaseUpTo(UINT64_MAX));
  RecordTimeline(end_us, true);
  return Status::Ok();
}

// Reads what the summary needs from the engine at the end of the day.
Status Festival::Finish() {
  ELEVEN_RETURN_IF_ERROR(backend_->Finish(&final_));
  std::vector<wire::Code> codes(drop_ids_.size());
  final_drops_.resize(drop_ids_.size());
  ELEVEN_RETURN_IF_ERROR(backend_->Lookup(protocol::Operation::kGetDrop, drop_ids_, codes, final_drops_.data()));
  for (size_t d = 0; d < codes.size(); d++) {
    if (codes[d] != wire::Code::ok) {
      return Status::Corruption("drop " + std::to_string(drop_ids_[d]) + " is gone: " + std::string(wire::CodeName(codes[d])));
    }
  }
  ELEVEN_RETURN_IF_ERROR(ReadPromotions());
  ELEVEN_RETURN_IF_ERROR(backend_->GetFigures(&final_figures_));
  ELEVEN_ASSERT(timeline_figures_.size() == timeline_.size());
  for (size_t i = 0; i < timeline_.size(); i++) {
    wire::FiguresRecord figures{};
    ELEVEN_RETURN_IF_ERROR(backend_->TakeFigures(timeline_figures_[i], &figures));
    timeline_[i].parcels_dispatched = figures.parcels_dispatched;
  }
  return Status::Ok();
}

// The coupons' and pre-sales' records at the end of the day: what was claimed, redeemed and
// given off, deposited, converted and forfeited, as the engine counted it.
Status Festival::ReadPromotions() {
  std::vector<uint64_t> ids;
  std::vector<wire::Code> codes;
  auto read = [&](protocol::Operation op, auto* records, const char* what) {
    codes.assign(ids.size(), wire::Code::ok);
    records->resize(ids.size());
    ELEVEN_RETURN_IF_ERROR(backend_->Lookup(op, ids, codes, records->data()));
    for (size_t i = 0; i < codes.size(); i++) {
      if (codes[i] != wire::Code::ok) {
        return Status::Corruption(std::string(what) + " " + std::to_string(ids[i]) +
                                  " is gone: " + std::string(wire::CodeName(codes[i])));
      }
    }
    return Status::Ok();
  };
  for (const CouponInfo& c : coupons_) ids.push_back(c.id);
  if (!ids.empty())
    ELEVEN_RETURN_IF_ERROR(read(protocol::Operation::kGetCoupon, &final_coupons_, "coupon"));
  ids.clear();
  for (const PresaleInfo& p : presales_) ids.push_back(p.sku);
  if (!ids.empty())
    ELEVEN_RETURN_IF_ERROR(read(protocol::Operation::kGetPresale, &final_presales_, "pre-sale"));
  return Status::Ok();
}

namespace {

template <typename T>
void FieldOrNull(JsonWriter& j, std::string_view key, bool known, T value) {
  j.Key(key);
  if (!known) {
    j.Null();
  } else if constexpr (std::is_integral_v<T>) {
    j.Int(int64_t(value));
  } else {
    j.Num(value);
  }
}

}  // namespace

// What differs from an embedded run, said in the summary itself.
void Festival::SummaryNotes(JsonWriter& j) const {
  std::vector<std::string> notes;
  if (!o_.connect.empty()) {
    notes.push_back("run against eleven serve at " + o_.connect + ": latency includes the network and the server's batching");
    if (s_.snapshot_at_s >= 0) notes.push_back("snapshot_at_s skipped: snapshots are the server's business");
    notes.push_back("journal figures and engine_commands_per_s are the server's (see its /metrics)");
  }
  if (!backend_->limits_note().empty()) notes.push_back(backend_->limits_note());
  if (final_.client_resends != 0 || final_.busy_replies != 0) {
    notes.push_back(std::to_string(final_.client_resends) + " requests re-sent after a reconnect and " +
                    std::to_string(final_.busy_replies) +
                    " answered busy: the server may have applied them in another order than an embedded run");
  }
  j.Key("notes").Begin('[');
  for (const std::string& note : notes) j.String(note);
  j.End(']');
}

std::string Festival::Summary(double wall_s) {
  JsonWriter j;
  const wire::StatsRecord& stats = final_.stats;
  const bool remote = !o_.connect.empty();
  j.Begin('{').FieldStr("eleven_version", "0.1.0");
  j.Key("scenario").Begin('{').FieldStr("name", s_.name).Field("seed", int64_t(s_.seed)).FieldNum("scale", s_.scale);
  uint32_t overseas = 0;
  for (uint32_t m = 1; m <= s_.merchants; m++) overseas += IsOverseas(m);
  j.Field("merchants", s_.merchants).Field("overseas_merchants", overseas).Field("countries", int64_t(CountriesByName().size()));
  j.Field("skus", int64_t(s_.merchants) * s_.skus_per_merchant).Field("buyers", s_.buyers);
  j.Field("simulated_seconds", int64_t(s_.simulated_seconds)).FieldNum("wall_seconds", wall_s);
  // A server's replies are always held until durable.
  j.FieldStr("durability", s_.durable || remote ? "durable" : "relaxed").FieldStr("pace", s_.realtime ? "realtime" : "fast");
  FieldOrNull(j, "realtime_lag_max_ms", s_.realtime, double(realtime_lag_max_ns_) / 1e6);
  j.FieldStr("mode", remote ? "connect" : "embedded");
  if (remote) j.FieldStr("server", o_.connect);
  j.FieldStr("data_dir", remote ? "" : o_.data_dir).End('}');
  SummaryNotes(j);

  j.Key("seed_figures").Begin('{').Field("peak_orders_per_s", 545000).Field("parcels_by_0801", 100000000);
  j.Field("parcels_target_scaled", int64_t(100'000'000 * s_.scale)).FieldNum("tier34_new_user_share", 0.70).End('}');

  std::vector<uint32_t> all = latencies_us_;
  j.Key("totals").Begin('{').Field("orders_placed", int64_t(orders_sent_)).Field("orders_accepted", int64_t(accepted_));
  j.Field("orders_rejected", int64_t(rejected_)).Field("orders_paid", int64_t(stats.orders_paid));
  j.Field("orders_expired", int64_t(stats.orders_expired)).Field("orders_cancelled", int64_t(stats.orders_cancelled));
  j.Field("orders_delivered", int64_t(stats.orders_delivered)).Field("retries", int64_t(retries_));
  j.Field("payments_refused", int64_t(pay_refused_));
  const int64_t refunds_fen = returns_refunded_fen_ + after_sales_refunded_fen_;
  j.Field("gmv_gross_fen", gmv_gross_fen_).Field("gmv_paid_fen", gmv_net_fen_);
  j.Field("gmv_net_fen", gmv_net_fen_ - refunds_fen).Field("refunds_fen", refunds_fen);
  j.Field("orders_returned", int64_t(orders_returned_)).Field("returns_refunded_fen", returns_refunded_fen_);
  j.Field("after_sales_refunds", int64_t(after_sales_refunds_)).Field("after_sales_refunded_fen", after_sales_refunded_fen_);
  j.Field("after_sales_refused", int64_t(after_sales_refused_));
  j.FieldNum("peak_orders_per_s", peak_rate_).FieldNum("peak_at_s", peak_at_s_);
  j.FieldNum("engine_orders_per_s", double(orders_sent_) / wall_s);  // per wall second, whole run
  // The engine's own time, the journal and snapshots are the server's business remotely:
  // null there, not a number measured on something else.
  j.Key("engine_commands_per_s");
  if (remote) {
    j.Null();
  } else {
    j.Num(day_busy_ns_ ? double(commands_applied_) / (double(day_busy_ns_) / 1e9) : 0);
  }
  j.Field("commands_applied", int64_t(commands_applied_));
  j.Field("log_entries", int64_t(final_.digest.op));
  FieldOrNull(j, "journal_bytes", final_.journal_known, final_.journal_bytes);
  FieldOrNull(j, "journal_syncs", final_.journal_known, final_.journal_syncs);
  const bool snapshots = backend_->can_snapshot();
  FieldOrNull(j, "snapshot_stall_ms", snapshots, snapshot_stall_ms_);
  FieldOrNull(j, "snapshot_write_ms", snapshots, snapshot_write_ms_);
  FieldOrNull(j, "snapshot_bytes", snapshots, snapshot_bytes_);
  char hex[40];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx", (unsigned long long)final_.digest.digest_high,
                (unsigned long long)final_.digest.digest_low);
  j.FieldStr("state_digest", hex);
  j.Key("rejected_by_code").Begin('{');
  std::map<std::string_view, uint64_t> rejected_by_name;
  for (const auto& [code, count] : rejected_by_code_) rejected_by_name[wire::CodeName(code)] = count;
  for (const auto& [name, count] : rejected_by_name) j.Field(name, int64_t(count));
  j.End('}');
  j.Key("latency_us").Begin('{').FieldNum("p50", Percentile(all, 0.5)).FieldNum("p99", Percentile(all, 0.99));
  j.FieldNum("p999", Percentile(all, 0.999)).FieldNum("max", all.empty() ? 0 : *std::max_element(all.begin(), all.end()));
  j.End('}').End('}');

  j.Key("timeline").Begin('[');
  for (const TimelinePoint& p : timeline_) {
    j.Begin('{').FieldNum("t_s", p.t_s).FieldNum("orders_per_s", p.orders_per_s).Field("accepted", int64_t(p.accepted));
    j.Field("gmv_fen", p.gmv_fen).Field("gmv_net_fen", p.gmv_net_fen).Field("parcels_dispatched", int64_t(p.parcels_dispatched)).End('}');
  }
  j.End(']');
  j.Key("latency_timeline").Begin('[');
  for (const LatencyPoint& p : latency_timeline_) {
    j.Begin('{').FieldNum("t_s", p.t_s).FieldNum("p50_us", p.p50_us).FieldNum("p99_us", p.p99_us).FieldNum("p999_us", p.p999_us).End('}');
  }
  j.End(']');

  j.Key("drops").Begin('[');
  for (size_t d = 0; d < s_.drops.size(); d++) {
    const wire::DropRecord& r = final_drops_[d];
    j.Begin('{').FieldStr("name", s_.drops[d].name).FieldStr("sku", s_.drops[d].sku).Field("quota", r.quota);
    j.FieldNum("seed_seconds", s_.drops[d].seed_seconds).FieldNum("opened_at_s", s_.drops[d].opens_at_s);
    j.Key("sold_out_after_s");
    if (r.sold_out_at_us != 0) {
      j.Num(double(r.sold_out_at_us - r.opens_at_us) / kSecondUs);
    } else {
      j.Null();
    }
    j.Field("sold", r.sold).Field("reserved", r.reserved).Field("returned", r.returned).End('}');
  }
  j.End(']');

  j.Key("payments").Begin('{').Field("wallet", int64_t(paid_by_method_[0])).Field("card", int64_t(paid_by_method_[1]));
  j.Key("instalments").Begin('{');
  for (const auto& [periods, count] : instalments_by_periods_) j.Field(std::to_string(periods), int64_t(count));
  j.End('}').Key("instalments_by_fee_payer").Begin('{').Field("merchant", int64_t(paid_by_method_[2]));
  j.Field("buyer", int64_t(paid_by_method_[3])).End('}').End('}');

  // The engine's own sales figures: exact, before and after discounts (docs/read-side.md).
  const wire::SalesRecord& sales = final_.sales;
  j.Key("sales")
      .Begin('{')
      .Field("gross_fen", sales.gross_fen)
      .Field("discounts_fen", sales.discounts_fen);
  j.Field("refunds_fen", sales.refunds_fen).Field("net_fen", sales.net_fen);
  j.Field("orders", int64_t(sales.orders)).Field("units", int64_t(sales.units)).End('}');
  if (s_.coupons || s_.presale) {
    j.Key("promotions").Begin('{');
    if (s_.coupons) SummaryCoupons(j);
    if (s_.presale) SummaryPresale(j);
    j.End('}');
  }

  const wire::FiguresRecord& figures = final_figures_;
  j.Key("fulfilment").Begin('{').Field("parcels", int64_t(figures.parcels_allocated));
  j.Field("dispatched", int64_t(figures.parcels_dispatched)).Field("delivered", int64_t(figures.parcels_delivered));
  j.Field("returned", int64_t(figures.parcels_returned));
  j.Field("backlog", int64_t(figures.backlog_count)).Field("backlog_high", int64_t(figures.backlog_count_high));
  j.Field("split_shipments", int64_t(figures.shipments_split));
  j.Key("by_courier").Begin('[');
  for (size_t c = 0; c < s_.couriers.size(); c++) {
    j.Begin('{').FieldStr("name", s_.couriers[c].name).Field("parcels", int64_t(courier_parcels_[c])).End('}');
  }
  j.End(']').Key("by_warehouse").Begin('[');
  for (const auto& [w, count] : warehouse_parcels_) {
    const uint16_t region = uint16_t(1 + (w * 13) % s_.regions);
    const std::string name = std::string(region <= 31 ? kProvinces[region - 1] : "Region") + " #" + std::to_string(w);
    j.Begin('{').FieldStr("name", name).Field("parcels", int64_t(count)).End('}');
  }
  j.End(']').Key("milestones").Begin('[');
  for (uint32_t i = 0; i < figures.milestone_count; i++) {
    j.Begin('{').Field("n", int64_t(figures.milestone_parcels[i])).Key("at_s");
    if (figures.milestone_at_us[i] != 0) {
      j.Num(double(figures.milestone_at_us[i] - kDayStartUs) / kSecondUs);
    } else {
      j.Null();
    }
    j.End('}');
  }
  j.End(']').End('}');

  j.Key("breakdowns").Begin('{').Key("city_tier").Begin('[');
  for (int t = 0; t < 5; t++) {
    j.Begin('{').FieldStr("key", std::to_string(t + 1)).Field("orders", int64_t(by_tier_[t].orders));
    j.Field("gmv_fen", by_tier_[t].gmv_fen).Field("buyers", int64_t(by_tier_[t].buyers)).End('}');
  }
  j.End(']').Key("region").Begin('[');
  for (uint32_t r = 1; r <= s_.regions; r++) {
    const std::string name = r <= 31 ? kProvinces[r - 1] : "Region " + std::to_string(r);
    j.Begin('{').FieldStr("key", name).Field("orders", int64_t(by_region_[r].orders)).Field("gmv_fen", by_region_[r].gmv_fen).End('}');
  }
  j.End(']').Key("country").Begin('[');
  for (const auto& [country, b] : CountriesByName()) {
    j.Begin('{').FieldStr("key", country).Field("orders", int64_t(b.orders)).Field("gmv_fen", b.gmv_fen).End('}');
  }
  j.End(']').End('}').End('}');
  return j.str();
}

namespace {

void CodeCounts(JsonWriter& j, std::string_view key, const std::map<wire::Code, uint64_t>& counts) {
  std::map<std::string_view, uint64_t> by_name;
  for (const auto& [code, count] : counts) by_name[wire::CodeName(code)] = count;
  j.Key(key).Begin('{');
  for (const auto& [name, count] : by_name) j.Field(name, int64_t(count));
  j.End('}');
}

}  // namespace

// Coupons: the claims the buyers made and what they met, and per line (each platform coupon,
// each live room, the shops together) the engine's counters and the discounts given.
void Festival::SummaryCoupons(JsonWriter& j) const {
  ELEVEN_ASSERT(final_coupons_.size() == coupons_.size());
  struct Line {
    const char* funded_by = "shop";
    const char* kind = "threshold";
    int64_t amount_fen = 0, threshold_fen = 0;
    int64_t coupons = 0, count = 0, claims = 0, claimed = 0, exhausted = 0, held = 0, redeemed = 0,
            discount_fen = 0;
  };
  std::vector<Line> lines(coupon_lines_.size());
  int64_t claims = 0, granted = 0, exhausted = 0, redeemed = 0, held = 0, platform_fen = 0,
          shop_fen = 0;
  for (size_t i = 0; i < coupons_.size(); i++) {
    const CouponInfo& info = coupons_[i];
    const wire::CouponRecord& r = final_coupons_[i];
    ELEVEN_ASSERT(r.coupon_id == info.id && r.claimed <= r.count);
    Line& line = lines[info.line];
    if (r.merchant_id == 0) line.funded_by = "platform";
    if (r.kind == wire::CouponKind::kFixed) line.kind = "fixed";
    line.amount_fen = r.amount_fen;
    line.threshold_fen = r.kind == wire::CouponKind::kFixed ? 0 : r.threshold_fen;
    line.coupons++;
    line.count += r.count;
    line.claims += int64_t(info.claims);
    line.claimed += r.claimed;
    line.exhausted += int64_t(info.exhausted);
    line.held += r.held;
    line.redeemed += r.redeemed;
    line.discount_fen += r.discount_fen;
    claims += int64_t(info.claims);
    granted += int64_t(info.granted);
    exhausted += int64_t(info.exhausted);
    redeemed += r.redeemed;
    held += r.held;
    (r.merchant_id == 0 ? platform_fen : shop_fen) += r.discount_fen;
  }
  j.Key("coupons").Begin('{').Field("claims", claims).Field("claims_granted", granted);
  j.Field("claims_exhausted", exhausted);
  CodeCounts(j, "claims_refused_by_code", claims_refused_by_code_);
  j.Field("orders_with_coupons", int64_t(coupon_orders_))
      .Field("coupons_named", int64_t(coupons_named_));
  j.Field("redeemed", redeemed).Field("held", held);
  j.Field("platform_discount_fen", platform_fen).Field("shop_discount_fen", shop_fen);
  j.Field("discount_fen", platform_fen + shop_fen);
  j.Key("by_coupon").Begin('[');
  for (size_t l = 0; l < lines.size(); l++) {
    const Line& line = lines[l];
    j.Begin('{')
        .FieldStr("name", coupon_lines_[l])
        .FieldStr("funded_by", line.funded_by)
        .FieldStr("kind", line.kind);
    j.Field("amount_fen", line.amount_fen)
        .Field("threshold_fen", line.threshold_fen)
        .Field("coupons", line.coupons);
    j.Field("count", line.count).Field("claims", line.claims).Field("claimed", line.claimed);
    j.Field("exhausted", line.exhausted).Field("held", line.held).Field("redeemed", line.redeemed);
    j.Field("discount_fen", line.discount_fen).End('}');
  }
  j.End(']').End('}');
}

// Pre-sale: deposits paid the day before, balances from 00:00, conversion and forfeits, from
// the pre-sales' records; the festival's own counts of what it sent beside them.
void Festival::SummaryPresale(JsonWriter& j) const {
  ELEVEN_ASSERT(final_presales_.size() == presales_.size());
  int64_t quota = 0, deposits = 0, deposit_fen = 0, deposited_units = 0, converted = 0, pending = 0,
          forfeited = 0;
  int64_t forfeited_fen = 0, inflation_fen = 0;
  for (const wire::PresaleRecord& r : final_presales_) {
    ELEVEN_ASSERT(uint64_t{r.available} + r.deposited + r.converted + r.returned == r.quota);
    // Units ever under a deposit: those still waiting for the balance, converted, forfeited.
    const int64_t units = int64_t(r.deposited) + r.converted + r.forfeited;
    quota += r.quota;
    deposits += r.deposits;
    deposit_fen += r.deposit_fen * units;
    deposited_units += units;
    converted += r.converted;
    pending += r.deposited;
    forfeited += r.forfeited;
    forfeited_fen += r.forfeited_fen;
    inflation_fen += (r.deposit_value_fen - r.deposit_fen) * int64_t(r.converted);
  }
  j.Key("presale").Begin('{').Field("presales", int64_t(presales_.size())).Field("quota", quota);
  j.Field("deposits_sent", int64_t(deposits_.size())).Field("deposits", deposits);
  CodeCounts(j, "deposits_refused_by_code", deposits_refused_by_code_);
  j.Field("deposit_fen", deposit_fen)
      .Field("deposited_units", deposited_units)
      .Field("converted", converted);
  j.FieldNum("conversion_share",
             deposited_units != 0 ? double(converted) / double(deposited_units) : 0);
  j.Field("pending", pending).Field("forfeited", forfeited).Field("forfeited_fen", forfeited_fen);
  j.Field("inflation_fen", inflation_fen).Field("balances_paid", int64_t(balances_paid_));
  CodeCounts(j, "balances_refused_by_code", balances_refused_by_code_);
  j.End('}');
}

Status RunFestival(const Scenario& scenario, const FestivalOptions& options, std::string* summary_json) {
  Festival festival(scenario, options);
  return festival.Run(summary_json);
}

}  // namespace eleven::sim
