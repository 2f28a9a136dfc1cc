#include "server/http_server.h"

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>

#include "base/assert.h"
#include "client/tls_stream.h"
#include "server/http_forward.h"
#include "server/http_lists.h"
#include "server/json_decode.h"
#include "server/json_encode.h"
#include "server/openapi_document.h"
#include "server/tls.h"

namespace eleven::net {

// How a WebSocket over a net::Stream closes (Beast's customization points, found by ADL):
// the closing handshake's TCP (or TLS, then TCP) teardown, and a timed-out viewer's close.
void teardown(boost::beast::role_type role, Stream& stream, boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  if (stream.is_tls()) return teardown(role, stream.tls(), ec);
  teardown(role, stream.socket(), ec);
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, Stream& stream, TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  if (stream.is_tls())
    return async_teardown(role, stream.tls(), std::forward<TeardownHandler>(handler));
  async_teardown(role, stream.socket(), std::forward<TeardownHandler>(handler));
}

void beast_close_socket(Stream& stream) {
  boost::system::error_code ignored;
  stream.socket().close(ignored);
}

}  // namespace eleven::net

namespace eleven::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

constexpr size_t kPathSegmentsMax = 4;
constexpr size_t kPathIdsMax = 2;
constexpr auto kRateWindow = std::chrono::seconds(1);
// GET /accounts/{id}/transfers without ?limit=.
constexpr uint32_t kTransfersLimitDefault = 100;
constexpr uint32_t kSalesDropsDefault = 100;  // GET /figures: drops with a sale, newest first
// sink_tag of a submit request whose reply lists every result (an array body).
constexpr uint64_t kBatchReply = 1;

// Where a request goes, decided from method and path.
enum class Route : uint8_t {
  kNotFound,
  kMethodNotAllowed,
  kHealth,
  kOpenApiJson,
  kOpenApiYaml,
  kMetrics,
  kCommand,
  kQuery,
  kFeed,
  kList,
  kClock,
  kBadId,
  kBadParams
};

// One row of the route table: a method and a path whose "{}" segments are u64 ids.
struct RouteRow {
  http::verb method;
  std::string_view pattern;
  Route route;
  JsonCommand command = JsonCommand::kCreateMerchant;
  protocol::Operation query = protocol::Operation::kGetOrder;
  TopicKind topic = TopicKind::kSku;
  view::ListKind list = view::ListKind::kBuyerOrders;
};

constexpr RouteRow Post(std::string_view pattern, JsonCommand command) {
  return {http::verb::post, pattern, Route::kCommand, command};
}
constexpr RouteRow Get(std::string_view pattern, protocol::Operation query) {
  return {http::verb::get, pattern, Route::kQuery, JsonCommand::kCreateMerchant, query};
}
constexpr RouteRow Stream(std::string_view pattern, TopicKind topic) {
  return {http::verb::get, pattern, Route::kFeed, JsonCommand::kCreateMerchant, protocol::Operation::kGetOrder, topic};
}
constexpr RouteRow List(std::string_view pattern, view::ListKind list) {
  return {http::verb::get, pattern, Route::kList, JsonCommand::kCreateMerchant, protocol::Operation::kGetOrder,
          TopicKind::kSku, list};
}

using JC = JsonCommand;
using Op = protocol::Operation;
// Every route of docs/openapi.yaml; the first row whose pattern matches decides.
constexpr RouteRow kRoutes[] = {
    {http::verb::get, "/healthz", Route::kHealth},
    {http::verb::get, "/openapi.json", Route::kOpenApiJson},
    {http::verb::get, "/openapi.yaml", Route::kOpenApiYaml},
    {http::verb::get, "/metrics", Route::kMetrics},
    {http::verb::post, "/clock", Route::kClock},
    // Catalog, drops, orders.
    Post("/merchants", JC::kCreateMerchant),
    Get("/merchants/{}", Op::kGetMerchant),
    Post("/skus", JC::kCreateSku),
    Get("/skus/{}", Op::kGetSku),
    Post("/skus/{}/restock", JC::kRestock),
    Post("/skus/{}/price", JC::kSetPrice),
    Post("/drops", JC::kCreateDrop),
    Get("/drops/{}", Op::kGetDrop),
    Post("/drops/{}/close", JC::kCloseDrop),
    Post("/orders", JC::kPlaceOrder),
    Get("/order-keys/{}", Op::kGetOrderByKey),
    Get("/orders/{}", Op::kGetOrder),
    Post("/orders/{}/pay", JC::kPayOrder),
    Post("/orders/{}/cancel", JC::kCancelOrder),
    // Coupons (docs/promotions.md).
    Post("/coupons", JC::kCreateCoupon),
    Get("/coupons/{}", Op::kGetCoupon),
    Post("/coupons/{}/claims", JC::kClaimCoupon),
    Get("/coupons/{}/claims/{}", Op::kGetCouponClaim),
    // Pre-sales (docs/promotions.md, "Pre-sale").
    Post("/presales", JC::kCreatePresale),
    Get("/presales/{}", Op::kGetPresale),
    Post("/presales/{}/deposits", JC::kPayDeposit),
    Get("/presales/{}/deposits/{}", Op::kGetDeposit),
    Post("/presales/{}/balance", JC::kPayBalance),
    // Payments (docs/ledger.md).
    Post("/accounts", JC::kCreateAccount),
    Get("/accounts/{}", Op::kGetAccount),
    Get("/accounts/{}/transfers", Op::kGetAccountTransfers),
    Post("/transfers", JC::kCreateTransfer),
    Get("/transfers/{}", Op::kGetTransfer),
    Post("/buyers/{}/deposit", JC::kDeposit),
    Post("/buyers/{}/credit-limit", JC::kSetBuyerCreditLimit),
    Get("/buyers/{}/credit", Op::kGetBuyerCredit),
    Post("/merchants/{}/withdraw", JC::kWithdraw),
    Post("/merchants/{}/credit-line", JC::kSetMerchantCreditLine),
    Post("/merchants/{}/draw-down", JC::kDrawDown),
    Post("/merchants/{}/repay", JC::kRepayMerchantCredit),
    Get("/merchants/{}/credit", Op::kGetMerchantCredit),
    Get("/orders/{}/money", Op::kGetOrderMoney),
    Get("/orders/{}/plan", Op::kGetPlan),
    Post("/orders/{}/plan/repay", JC::kRepayInstalment),
    Post("/orders/{}/confirm-delivery", JC::kConfirmDelivery),
    Post("/orders/{}/after-sales-refund", JC::kAfterSalesRefund),
    // Fulfilment (docs/fulfilment.md).
    Post("/warehouses", JC::kCreateWarehouse),
    Get("/warehouses/{}", Op::kGetWarehouse),
    Post("/warehouses/{}/stock", JC::kStockWarehouse),
    Get("/warehouses/{}/stock/{}", Op::kGetWarehouseStock),
    Get("/warehouses/{}/hours/{}", Op::kGetWarehouseHour),
    Post("/couriers", JC::kCreateCourier),
    Get("/couriers/{}", Op::kGetCourier),
    Post("/couriers/{}/coverage", JC::kSetCoverage),
    Get("/couriers/{}/hours/{}", Op::kGetCourierHour),
    Post("/regions/{}/point", JC::kSetRegionPoint),
    Get("/parcels/{}", Op::kGetParcel),
    Get("/parcels/{}/timeline", Op::kGetTimeline),
    Post("/parcels/{}/events", JC::kTrackParcel),
    Get("/orders/{}/shipment", Op::kGetShipment),
    Get("/fulfilment/figures", Op::kGetFigures),
    // Live figures and lists (docs/read-side.md).
    Get("/figures", Op::kGetSales),
    List("/buyers/{}/orders", view::ListKind::kBuyerOrders),
    List("/merchants/{}/orders", view::ListKind::kMerchantOrders),
    List("/merchants/{}/skus", view::ListKind::kMerchantSkus),
    List("/drops", view::ListKind::kDrops),
    List("/couriers/{}/parcels", view::ListKind::kCourierParcels),
    // Access (docs/access.md).
    Post("/keys", JC::kCreateKey),
    Get("/keys/{}", Op::kGetKey),
    Post("/keys/{}/revoke", JC::kRevokeKey),
    // The engine.
    Get("/engine/digest", Op::kGetDigest),
    // Live feeds.
    Stream("/feed/skus/{}", TopicKind::kSku),
    Stream("/feed/drops/{}", TopicKind::kDrop),
    Stream("/feed/figures", TopicKind::kFigures),
};

struct Routed {
  Route route = Route::kNotFound;
  JsonCommand command = JsonCommand::kCreateMerchant;
  protocol::Operation query = protocol::Operation::kGetOrder;
  TopicKind topic = TopicKind::kSku;
  view::ListKind list = view::ListKind::kBuyerOrders;
  std::string_view params;  // the query string (lists read it when they are answered)
  uint64_t id = 0;  // the first path id (commands, feeds and lists)
  // A query's request record as u64 words (docs/protocol.md, "Queries").
  std::array<uint64_t, 3> key{};
  uint32_t key_words = 0;
  std::string_view message;  // kBadParams: what was wrong
  bool bad_cursor = false;   // kBadParams: the cursor was (400 bad_cursor, not invalid_request)
};

bool ParseId(std::string_view text, uint64_t* id) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Splits "/a/b/c" into its segments; false if there are more than kPathSegmentsMax.
bool Segments(std::string_view path, std::array<std::string_view, kPathSegmentsMax>* seg, size_t* n) {
  *n = 0;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    if (*n == kPathSegmentsMax) return false;
    const size_t slash = path.find('/');
    (*seg)[(*n)++] = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return true;
}

// The list request an account's transfers' cursors are made for.
view::ListRequest TransfersList(const protocol::AccountTransfersQuery& query) {
  return view::ListRequest{.kind = view::ListKind::kAccountTransfers, .owner = query.account_id, .filter = query.flags};
}

// GET /accounts/{id}/transfers?limit=&flags=&cursor=: the query string into *query.
bool ParseTransfersParams(std::string_view params, protocol::AccountTransfersQuery* query,
                          std::string_view* message, bool* bad_cursor) {
  query->limit = kTransfersLimitDefault;
  query->flags = 0;
  std::string_view cursor;
  const bool read = ForEachParam(params, [&](std::string_view name, std::string_view text, bool number, uint64_t value) {
    if (name == "cursor") {
      cursor = text;
      return true;
    }
    if (name == "limit") {
      if (!number || value == 0 || value > wire::kAccountTransfersMax) {
        *message = "limit must be an integer from 1 to 8190";
        return false;
      }
      query->limit = static_cast<uint32_t>(value);
    } else if (name == "flags") {
      if (!number || value > (wire::kQueryDebits | wire::kQueryCredits)) {
        *message = "flags must be 0 (both sides), 1 (debits), 2 (credits) or 3 (both)";
        return false;
      }
      query->flags = static_cast<uint8_t>(value);
    } else {
      *message = "unknown query parameter (limit, flags and cursor are known)";
      return false;
    }
    return true;
  });
  if (!read) return false;
  if (!cursor.empty() && !DecodeCursor(TransfersList(*query), cursor, &query->after_transfer_id)) {
    *bad_cursor = true;
    *message = kBadCursorMessage;
    return false;
  }
  return true;
}

// GET /figures?drops=: the query string into *query.
bool ParseSalesParams(std::string_view params, wire::SalesQuery* query, std::string_view* message) {
  query->drop_limit = kSalesDropsDefault;
  return ForEachParam(params, [&](std::string_view name, std::string_view, bool number, uint64_t value) {
    if (name != "drops") {
      *message = "unknown query parameter (drops is known)";
      return false;
    }
    if (!number || value > wire::kSalesDropsMax) {
      *message = "drops must be an integer from 0 to 1000";
      return false;
    }
    query->drop_limit = static_cast<uint32_t>(value);
    return true;
  });
}

// A query route's request record from the path ids (and the query string).
Routed QueryKey(Routed r, const uint64_t* ids, std::string_view params) {
  r.key_words = static_cast<uint32_t>(protocol::RequestRecordSize(r.query) / sizeof(uint64_t));
  if (r.query == protocol::Operation::kGetSales) {
    wire::SalesQuery query{};
    if (!ParseSalesParams(params, &query, &r.message)) {
      r.route = Route::kBadParams;
      return r;
    }
    static_assert(sizeof(query) == sizeof(uint64_t));
    std::memcpy(r.key.data(), &query, sizeof(query));
    return r;
  }
  if (r.query != protocol::Operation::kGetAccountTransfers) {
    for (uint32_t w = 0; w < r.key_words; w++) r.key[w] = ids[w];
    return r;
  }
  protocol::AccountTransfersQuery query{};
  query.account_id = ids[0];
  if (!ParseTransfersParams(params, &query, &r.message, &r.bad_cursor)) {
    r.route = Route::kBadParams;
    return r;
  }
  static_assert(sizeof(query) == sizeof(r.key));
  std::memcpy(r.key.data(), &query, sizeof(query));
  return r;
}

Routed RouteFor(http::verb method, std::string_view target) {
  const size_t query_at = target.find('?');
  const std::string_view params =
      query_at == std::string_view::npos ? std::string_view() : target.substr(query_at + 1);
  if (query_at != std::string_view::npos) target = target.substr(0, query_at);
  std::array<std::string_view, kPathSegmentsMax> seg;
  size_t n = 0;
  Routed r;
  if (!Segments(target, &seg, &n)) return r;
  for (const RouteRow& row : kRoutes) {
    std::array<std::string_view, kPathSegmentsMax> want;
    size_t want_n = 0;
    const bool fits = Segments(row.pattern, &want, &want_n);
    ELEVEN_DASSERT(fits);
    if (!fits || want_n != n) continue;
    std::array<std::string_view, kPathIdsMax> id_text;
    size_t id_count = 0;
    size_t i = 0;
    for (; i < n; i++) {
      if (want[i] == "{}" && id_count < kPathIdsMax) {
        id_text[id_count++] = seg[i];
      } else if (want[i] != seg[i]) {
        break;
      }
    }
    if (i < n) continue;
    if (row.method != method) {
      r.route = Route::kMethodNotAllowed;  // unless a later row takes this method
      continue;
    }
    uint64_t ids[kPathIdsMax] = {0, 0};
    for (size_t k = 0; k < id_count; k++) {
      if (!ParseId(id_text[k], &ids[k])) {
        r.route = Route::kBadId;
        return r;
      }
    }
    r.route = row.route;
    r.command = row.command;
    r.query = row.query;
    r.topic = row.topic;
    r.list = row.list;
    r.params = params;
    r.id = ids[0];
    return row.route == Route::kQuery ? QueryKey(r, ids, params) : r;
  }
  return r;
}

template <typename Record>
std::string One(const std::byte* record, std::string (*encode)(const Record&)) {
  Record value;
  std::memcpy(&value, record, sizeof(value));
  return encode(value);
}

// A list reply's records (spaced one entry apart).
template <typename Record>
std::vector<Record> Gather(const std::byte* record, size_t entry_size, uint32_t count) {
  std::vector<Record> records(count);
  for (uint32_t i = 0; i < count; i++) std::memcpy(&records[i], record + i * entry_size, sizeof(Record));
  return records;
}

// Renders a query's reply entries as JSON; *code = the entry's code (ok, or why not).
std::string QueryReplyJson(const Request& r, wire::Code* code) {
  const protocol::Operation op = r.operation;
  const size_t entry_size = protocol::ReplyRecordSize(op);
  const std::byte* body = r.buffer.data() + protocol::kHeaderSize;
  *code = wire::Code::ok;
  if (r.count > 0) std::memcpy(code, body, sizeof(*code));
  if (*code == wire::Code::clock_is_wall) {
    return ErrorJson(wire::CodeName(*code),
                     "the server runs on the wall clock (engine.clock = \"wall\")");
  }
  if (*code == wire::Code::clock_backwards) {
    protocol::ClockRecord clock;
    std::memcpy(&clock, body + protocol::kQueryEntryHeadSize, sizeof(clock));
    return ErrorJson(wire::CodeName(*code), "log time never goes back: it is at " +
                                                std::to_string(clock.log_time_us) + " µs");
  }
  if (*code != wire::Code::ok) {
    return ErrorJson(wire::CodeName(*code), wire::CodeHttpStatus(*code) == 404 ? "not found" : "refused");
  }
  const std::byte* record = body + protocol::kQueryEntryHeadSize;
  switch (op) {
    case Op::kGetAccountTransfers: {
      protocol::AccountTransfersQuery query;
      ELEVEN_ASSERT(r.ids.size() * sizeof(uint64_t) == sizeof(query));
      std::memcpy(&query, r.ids.data(), sizeof(query));
      const auto transfers = Gather<wire::TransferRecord>(record, entry_size, r.count);
      // A full page may have more after it (the next page may be empty).
      const std::string next = transfers.size() == query.limit && !transfers.empty()
                                   ? EncodeCursor(TransfersList(query), transfers.back().transfer_id)
                                   : std::string();
      return TransfersJson(query.account_id, transfers, next);
    }
    case Op::kGetTimeline: return TimelineJson(r.ids[0], Gather<wire::TimelineEntry>(record, entry_size, r.count));
    case Op::kGetSales: return SalesJson(r.op, Gather<wire::SalesRecord>(record, entry_size, r.count));
    case Op::kGetSku: return One(record, SkuJson);
    case Op::kGetDrop: return One(record, DropJson);
    case Op::kGetOrder:
    case Op::kGetOrderByKey: return One(record, OrderJson);
    case Op::kGetAccount: return One(record, AccountJson);
    case Op::kGetTransfer: return One(record, TransferJson);
    case Op::kGetOrderMoney: return One(record, OrderMoneyJson);
    case Op::kGetPlan: return One(record, PlanJson);
    case Op::kGetMerchantCredit: return One(record, MerchantCreditJson);
    case Op::kGetBuyerCredit: return One(record, BuyerCreditJson);
    case Op::kGetParcel: return One(record, ParcelJson);
    case Op::kGetShipment: return One(record, ShipmentJson);
    case Op::kGetFigures: return One(record, FiguresJson);
    case Op::kGetWarehouseStock: return One(record, StockJson);
    case Op::kGetWarehouseHour:
    case Op::kGetCourierHour: return One(record, HourJson);
    case Op::kGetDigest: return One(record, DigestJson);
    case Op::kSetClock:
      return One(record, ClockJson);
    case Op::kGetKey: return One(record, KeyJson);
    case Op::kGetMerchant: return One(record, MerchantJson);
    case Op::kGetCoupon: return One(record, CouponJson);
    case Op::kGetCouponClaim: return One(record, CouponClaimJson);
    case Op::kGetPresale: return One(record, PresaleJson);
    case Op::kGetDeposit: return One(record, DepositJson);
    case Op::kGetWarehouse: return One(record, WarehouseJson);
    case Op::kGetCourier: return One(record, CourierJson);
    case Op::kSubmit:
    case Op::kPing:
    case Op::kAuthenticate:
    case Op::kGetStats:
    case Op::kGetLimits: break;  // binary protocol only
  }
  ELEVEN_ASSERT(false);
  return "";
}

// A submit's reply: one result (the first refusal, else the last: a courier's coverage is
// two commands) or, for an array body, every result. The status of a batch is that of its
// first refusal that is not linked_event_failed (the cause of a failed chain), else 200.
// `replayed`: every result the reply carries answers a retry (docs/server.md, "Retries").
std::string SubmitReplyJson(const Request& r, wire::Code* code, bool* replayed) {
  const auto* results = reinterpret_cast<const wire::Result*>(r.buffer.data() + protocol::kHeaderSize);
  ELEVEN_ASSERT(r.count >= 1);
  const wire::Result* cause = nullptr;
  for (uint32_t i = 0; i < r.count && cause == nullptr; i++) {
    if (results[i].code != wire::Code::ok && results[i].code != wire::Code::linked_event_failed) cause = &results[i];
  }
  for (uint32_t i = 0; i < r.count && cause == nullptr; i++) {
    if (results[i].code != wire::Code::ok) cause = &results[i];
  }
  *code = cause == nullptr ? wire::Code::ok : cause->code;
  if (r.sink_tag != kBatchReply) {
    const wire::Result& result = cause == nullptr ? results[r.count - 1] : *cause;
    *replayed = wire::IsReplay(result);
    return ResultJson(result);
  }
  *replayed = true;
  for (uint32_t i = 0; i < r.count; i++) *replayed = *replayed && wire::IsReplay(results[i]);
  std::string list = "[";
  for (uint32_t i = 0; i < r.count; i++) {
    if (i > 0) list += ',';
    list += ResultJson(results[i]);
  }
  list += ']';
  std::string out = "{";
  JsonOut j(&out);
  if (cause == nullptr) {
    j.Name("code", "ok");
  } else {
    j.Name("error", wire::CodeName(cause->code));
    j.Text("message", "result " + std::to_string(cause - results) + " of the batch was refused");
  }
  j.Raw("results", list);
  out += '}';
  return out;
}

}  // namespace

// One feed event in both of its forms: a Server-Sent Events block ("id:", "event:",
// "data:") and the bare JSON object a WebSocket viewer gets as one text message.
struct FeedEvent {
  std::string sse;
  std::string json;
};

// An HTTP/1.1 reply's status line and headers, as Beast's serializer wrote them for a
// response with a content type, keep-alive and prepare_payload(): Content-Length always, and
// "Connection: close" when the connection ends after it. Written here, into a buffer the
// session keeps, because Beast's serializer and fields (a heap node per header) cost more
// than the rest of a reply; requests are still parsed by Beast. `replayed` adds
// "Idempotent-Replayed: true" (a reply that answers a retry from the first result).
void ReplyHead(http::status status, std::string_view content_type, size_t body_size,
               bool keep_alive, bool replayed, std::string_view extra_headers, std::string* out) {
  const auto code = static_cast<unsigned>(status);
  const beast::string_view reason = http::obsolete_reason(status);
  char number[24];
  out->assign("HTTP/1.1 ");
  out->append(number, std::to_chars(number, number + sizeof(number), code).ptr);
  out->push_back(' ');
  out->append(reason.data(), reason.size());
  out->append("\r\nContent-Type: ");
  out->append(content_type);
  out->append("\r\nContent-Length: ");
  out->append(number, std::to_chars(number, number + sizeof(number), body_size).ptr);
  if (replayed) out->append("\r\nIdempotent-Replayed: true");
  out->append(extra_headers);  // each "\r\nName: value"
  out->append(keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
}

// A connection of the gateway: an HTTP session, or the WebSocket feed viewer one became.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Close() = 0;
  // The listener's once-a-second sweep: closes the connection if it has waited on its client
  // longer than the idle timeout, or, a feed viewer (never idle), if the event being written
  // to it has not gone within feed.write_timeout_ms (and says so).
  virtual bool CloseIfIdle(uint64_t /*now_ns*/) { return false; }
  // Feed subscribers: the topic's newest event (coalesced while the one before is written).
  virtual void SendEvent(std::shared_ptr<const FeedEvent> event) = 0;
  size_t feed_index = 0;  // position in its topic's subscriber list
  // Since when the viewer's current write (an event, or the SSE header) runs; 0: none runs.
  uint64_t feed_writing_since_ns = 0;

 protected:
  // Whether a feed write has run past the timeout: then counted, and the caller closes.
  bool FeedWriteTimedOut(const Core& core, IoMetrics* metrics, uint64_t now_ns) const {
    const uint64_t timeout_ns = uint64_t{core.config.feed_write_timeout_ms} * 1'000'000;
    if (feed_writing_since_ns == 0 || now_ns - feed_writing_since_ns < timeout_ns) return false;
    metrics->feed_slow_closed_total++;
    return true;
  }
};

// The live feeds: topics (a SKU's or a drop's stock, or the sales figures) with their
// subscribers. Each tick, one feed poll request reads every stock topic's record on the
// engine thread, and one get_sales query the figures (each held until durable like any
// reply); a topic whose record changed since the last poll gets one event with the next
// sequence number, written to each subscriber. A subscriber still writing the previous event
// gets only the newest one afterwards (coalesced; the sequence number shows the gap).
class Feed : public RequestSink, public std::enable_shared_from_this<Feed> {
 public:
  explicit Feed(Core* core) : core_(core), tick_timer_(core->io) {}
  void Start() { Tick(); }
  void Stop() { tick_timer_.cancel(); }
  struct Topic;
  // Whether Subscribe would take one more subscriber of this topic.
  bool HasRoom(TopicKind kind, uint64_t id) const {
    return subscriber_count_ < core_->config.feed_subscriber_count_max &&
           (topics_.count({kind, id}) != 0 || topics_.size() < core_->config.feed_topic_count_max);
  }
  Topic* Subscribe(Connection* subscriber, TopicKind kind, uint64_t id);
  void Unsubscribe(Connection* subscriber, Topic* topic);
  void OnRequestDone(Request* request) override;

  struct Topic {
    TopicKind kind;
    uint64_t id = 0;
    uint64_t seq = 0;
    bool have = false;
    uint64_t sold_out_at_us = 0;  // SKUs: the first poll that saw nothing available
    std::array<std::byte, kFeedEntrySize> last{};
    std::shared_ptr<const FeedEvent> last_event;
    std::vector<Connection*> subscribers;
  };

 private:
  void Tick();
  void PollStock();
  void PollSales();
  void Publish(Topic* topic, const std::byte* entry, uint64_t at_us);
  void PublishSales(const Request& r);

  Core* const core_;
  asio::steady_timer tick_timer_;
  std::map<std::pair<TopicKind, uint64_t>, std::unique_ptr<Topic>> topics_;
  std::vector<Topic*> polled_;
  bool poll_in_flight_ = false;
  bool sales_in_flight_ = false;
  std::vector<wire::SalesRecord> sales_last_;  // what the last figures event showed
  uint32_t subscriber_count_ = 0;
};

class HttpSession : public RequestSink, public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Core* core, HttpListener::State* state, net::Stream stream, uint64_t id)
      : core_(core), state_(state), stream_(std::move(stream)), id_(id) {}
  ~HttpSession() override;
  void Start();
  // The API key a verified TLS client certificate names (CN=eleven-key-<id>), 0 if none:
  // known once the handshake is done, before the first request is read.
  uint32_t tls_key_id() const { return stream_.tls_key_id(); }
  void Close() override;
  bool CloseIfIdle(uint64_t now_ns) override;
  void OnRequestDone(Request* request) override;
  void SendEvent(std::shared_ptr<const FeedEvent> event) override;

 private:
  void Read();
  void OnRead(const beast::error_code& error);
  void Handle();
  void Respond(http::status status, std::string body, const char* content_type = "application/json",
               bool replayed = false);
  void RespondError(int status, std::string_view code, std::string_view message) {
    Respond(static_cast<http::status>(status), ErrorJson(code, message));
  }
  void OnWrite(const beast::error_code& error, bool close);
  void Linger();
  void LingerRead();
  bool CrossSiteAllowed();
  void Preflight();
  bool Authenticate();
  void HandleCommand(const Routed& routed);
  void HandleQuery(const Routed& routed);
  void HandleClock();
  Request* Take(size_t buffer_size);
  bool ForwardToLeader(const std::string& leader);
  void OnForwarded(const boost::system::error_code& error, LeaderForwarder::Response* response,
                   const std::string& leader);
  void HandleFeed(const Routed& routed);
  void UpgradeFeed(const Routed& routed);
  void HandleList(const Routed& routed);
  void AnswerList(const ListQuery& query, uint64_t deadline_ns);
  void WriteEvent();
  void WatchFeedClose();

  Core* const core_;
  HttpListener::State* const state_;
  // The socket (or TLS over it), not a beast::tcp_stream: the idle sweep does the timeouts
  // (below), so the stream's timer and rate-policy layer around every operation is not needed.
  net::Stream stream_;
  const uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The reply being written: its head (ReplyHead) and body.
  std::string reply_head_;
  std::string reply_body_;
  bool keep_alive_ = true;
  bool closed_ = false;
  // Lingering close (Linger): after a reply to a request not read whole.
  static constexpr size_t kLingerBytesMax = size_t{16} << 20;
  static constexpr size_t kLingerBufferSize = size_t{64} << 10;
  bool linger_ = false;
  size_t linger_left_ = 0;
  std::unique_ptr<char[]> linger_buffer_;
  std::string extra_headers_;  // of the next reply, each "\r\nName: value"
  // Who sent the request being handled (Authenticate).
  Caller caller_;
  // The last secret this connection authenticated with, and its key (Authenticate).
  std::string last_secret_;
  uint32_t last_secret_key_id_ = 0;
  // The secret of the key a POST /keys in flight creates: the reply shows it, once.
  std::string new_secret_;
  // Since when the session waits on its client: for a request (reading) or for it to take a
  // reply (writing); 0 while the request is with the engine. The sweep closes it past the
  // idle timeout: a timer per connection, armed on every read as Beast's stream timeouts
  // are, cost more than the HTTP parsing itself.
  uint64_t waiting_since_ns_ = 0;
  // A follower's writes go on to the leader over this (cluster.forward_writes).
  std::shared_ptr<LeaderForwarder> forwarder_;
  std::string forwarded_content_type_;
  // Feed mode.
  Feed::Topic* topic_ = nullptr;
  std::unique_ptr<http::response<http::empty_body>> sse_header_;
  std::shared_ptr<const FeedEvent> event_writing_;
  std::shared_ptr<const FeedEvent> event_next_;
  char discard_[64];
};

// A feed viewer over WebSocket (RFC 6455, Boost.Beast): the HTTP session that got the upgrade
// request hands its socket over. Events go out as text messages, one JSON object each,
// coalesced like SSE; the viewer's own messages are read and dropped (at most 1 KiB each),
// and Beast's keep-alive pings close a viewer that stopped answering.
class WsFeedSession : public Connection, public std::enable_shared_from_this<WsFeedSession> {
 public:
  WsFeedSession(Core* core, HttpListener::State* state, net::Stream stream, uint64_t id)
      : core_(core), state_(state), ws_(std::move(stream)), id_(id) {}
  ~WsFeedSession() override { ELEVEN_ASSERT(topic_ == nullptr); }
  // Subscribes (Feed::HasRoom must have said yes) and answers the upgrade request.
  void Start(http::request<http::string_body> request, TopicKind kind, uint64_t topic_id);
  void Close() override;
  void SendEvent(std::shared_ptr<const FeedEvent> event) override;
  bool CloseIfIdle(uint64_t now_ns) override {
    if (closed_ || !FeedWriteTimedOut(*core_, &core_->io_metrics, now_ns)) return false;
    Close();
    return true;
  }

 private:
  void WriteEvent();
  void Read();

  Core* const core_;
  HttpListener::State* const state_;
  websocket::stream<net::Stream> ws_;
  const uint64_t id_;
  Feed::Topic* topic_ = nullptr;
  bool open_ = false;  // the handshake is done
  bool closed_ = false;
  beast::flat_buffer buffer_;
  std::shared_ptr<const FeedEvent> event_writing_;
  std::shared_ptr<const FeedEvent> event_next_;
};

struct HttpListener::State {
  State(Core* c, asio::ssl::context* tls_context)
      : core(c),
        tls(tls_context),
        acceptor(c->io),
        rate_timer(c->io),
        feed(std::make_shared<Feed>(c)) {}
  Core* const core;
  asio::ssl::context* const tls;  // null: plain HTTP
  tcp::acceptor acceptor;
  asio::steady_timer rate_timer;
  std::shared_ptr<Feed> feed;
  simdjson::ondemand::parser json;  // one parser: the I/O thread is single
  std::vector<wire::Command> commands = std::vector<wire::Command>(kJsonCommandCountMax);  // decoded bodies
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> sessions;
  uint16_t port = 0;

  void Accept();
  void RateTick();
  // The end of a connection: it leaves its feed topic (if any), its socket closes, and it is
  // forgotten (the caller's handler still holds it).
  void End(Connection* connection, Feed::Topic** topic, tcp::socket& socket, uint64_t id) {
    if (*topic != nullptr) {
      feed->Unsubscribe(connection, *topic);
      *topic = nullptr;
    }
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    core->io_metrics.http_connections--;
    sessions.erase(id);
  }
};

// ---- Feed -----------------------------------------------------------------------------

Feed::Topic* Feed::Subscribe(Connection* session, TopicKind kind, uint64_t id) {
  if (subscriber_count_ >= core_->config.feed_subscriber_count_max) return nullptr;
  auto key = std::make_pair(kind, id);
  auto it = topics_.find(key);
  if (it == topics_.end()) {
    if (topics_.size() >= core_->config.feed_topic_count_max) return nullptr;
    auto topic = std::make_unique<Topic>();
    topic->kind = kind;
    topic->id = id;
    it = topics_.emplace(key, std::move(topic)).first;
  }
  Topic* topic = it->second.get();
  session->feed_index = topic->subscribers.size();
  topic->subscribers.push_back(session);
  subscriber_count_++;
  core_->io_metrics.feed_subscribers = subscriber_count_;
  core_->io_metrics.feed_topics = topics_.size();
  return topic;
}

void Feed::Unsubscribe(Connection* session, Topic* topic) {
  auto& list = topic->subscribers;
  const size_t index = session->feed_index;
  ELEVEN_ASSERT(index < list.size() && list[index] == session);
  list[index] = list.back();
  list[index]->feed_index = index;
  list.pop_back();
  ELEVEN_ASSERT(subscriber_count_ > 0);
  subscriber_count_--;
  core_->io_metrics.feed_subscribers = subscriber_count_;
}

void Feed::Tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(core_->config.feed_tick_ms));
  tick_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (error) return;
    self->Tick();
  });
  if (core_->stopping) return;
  // Topics nobody watches go now (never while a poll may point at them).
  if (!poll_in_flight_ && !sales_in_flight_) {
    std::erase_if(topics_, [](const auto& entry) { return entry.second->subscribers.empty(); });
    core_->io_metrics.feed_topics = topics_.size();
  }
  if (!poll_in_flight_) PollStock();
  if (!sales_in_flight_) PollSales();
}

void Feed::PollStock() {
  polled_.clear();
  for (auto& [key, topic] : topics_) {
    if (topic->kind != TopicKind::kFigures) polled_.push_back(topic.get());
  }
  if (polled_.empty()) return;
  Request* r = core_->pool.Take(protocol::kHeaderSize + polled_.size() * kFeedEntrySize);
  if (r == nullptr) return;  // the server is full: this tick is skipped, the next one catches up
  r->kind = RequestKind::kFeedPoll;
  r->count = static_cast<uint32_t>(polled_.size());
  r->received_ns = MonotonicNs();
  for (const Topic* topic : polled_) {
    r->ids.push_back(topic->id);
    r->topic_kinds.push_back(topic->kind);
  }
  r->sink = shared_from_this();
  poll_in_flight_ = true;
  core_->loop->Push(r);
}

// The figures of GET /figures (its default drops), read as a viewer: who may subscribe was
// checked when they did.
void Feed::PollSales() {
  const auto it = topics_.find({TopicKind::kFigures, 0});
  if (it == topics_.end() || it->second->subscribers.empty()) return;
  wire::SalesQuery query{};
  query.drop_limit = kSalesDropsDefault;
  uint64_t key;
  std::memcpy(&key, &query, sizeof(key));
  const uint32_t entries_max = protocol::ReplyEntryCountMax(protocol::Operation::kGetSales, 1,
                                                            std::as_bytes(std::span(&key, 1)));
  Request* r = core_->pool.Take(protocol::kHeaderSize +
                                entries_max * protocol::ReplyRecordSize(protocol::Operation::kGetSales));
  if (r == nullptr) return;  // as above
  r->kind = RequestKind::kQuery;
  r->operation = protocol::Operation::kGetSales;
  r->count = 1;
  r->caller = Caller{.role = wire::Role::kViewer};
  r->ids.assign(1, key);
  r->received_ns = MonotonicNs();
  r->sink = shared_from_this();
  sales_in_flight_ = true;
  core_->loop->Push(r);
}

void Feed::OnRequestDone(Request* r) {
  if (r->kind == RequestKind::kQuery) {
    sales_in_flight_ = false;
    if (r->status == protocol::FrameStatus::kOk) PublishSales(*r);
    core_->pool.Give(r);
    return;
  }
  poll_in_flight_ = false;
  if (r->status == protocol::FrameStatus::kOk) {
    ELEVEN_ASSERT(polled_.size() == r->count);
    uint64_t at_us = 0;
    std::memcpy(&at_us, r->buffer.data(), sizeof(at_us));
    for (uint32_t i = 0; i < r->count; i++) Publish(polled_[i], r->body() + i * kFeedEntrySize, at_us);
  }
  core_->pool.Give(r);
}

void Feed::PublishSales(const Request& r) {
  const auto it = topics_.find({TopicKind::kFigures, 0});
  if (it == topics_.end()) return;
  Topic* topic = it->second.get();
  const size_t entry_size = protocol::ReplyRecordSize(r.operation);
  const std::byte* body = r.buffer.data() + protocol::kHeaderSize;
  wire::Code code = wire::Code::ok;
  if (r.count > 0) std::memcpy(&code, body, sizeof(code));
  if (code != wire::Code::ok) return;  // not a figure to show (a viewer may read them)
  std::vector<wire::SalesRecord> sales = Gather<wire::SalesRecord>(body + protocol::kQueryEntryHeadSize, entry_size, r.count);
  if (topic->have && sales.size() == sales_last_.size() &&
      std::memcmp(sales.data(), sales_last_.data(), sales.size() * sizeof(wire::SalesRecord)) == 0) {
    return;
  }
  topic->have = true;
  topic->seq++;
  std::string figures = SalesJson(r.op, sales);
  sales_last_ = std::move(sales);
  std::string data = "{\"topic\":\"figures\",\"seq\":" + std::to_string(topic->seq) + "," + figures.substr(1);
  auto event = std::make_shared<const FeedEvent>(
      FeedEvent{"id: " + std::to_string(topic->seq) + "\nevent: figures\ndata: " + data + "\n\n", data});
  topic->last_event = event;
  for (Connection* session : topic->subscribers) session->SendEvent(event);
  core_->io_metrics.feed_events_total += topic->subscribers.size();
}

void Feed::Publish(Topic* topic, const std::byte* entry, uint64_t at_us) {
  if (topic->have && std::memcmp(topic->last.data(), entry, kFeedEntrySize) == 0) return;
  topic->have = true;
  std::memcpy(topic->last.data(), entry, kFeedEntrySize);
  topic->seq++;
  wire::Code code;
  std::memcpy(&code, entry, sizeof(code));
  const std::byte* record = entry + protocol::kQueryEntryHeadSize;
  std::string data = "{";
  JsonOut j(&data);
  j.Name("topic", topic->kind == TopicKind::kSku ? "sku" : "drop");
  j.Uint("id", topic->id);
  j.Uint("seq", topic->seq);
  j.Uint("at_us", at_us);
  if (code != wire::Code::ok) {
    j.Name("error", wire::CodeName(code));
  } else if (topic->kind == TopicKind::kSku) {
    wire::SkuRecord s;
    std::memcpy(&s, record, sizeof(s));
    if (s.available == 0 && topic->sold_out_at_us == 0) topic->sold_out_at_us = at_us;
    if (s.available > 0) topic->sold_out_at_us = 0;  // restocked
    j.Uint("available", s.available);
    j.Uint("reserved", s.reserved);
    j.Uint("sold", s.sold);
    j.Uint("in_drops", s.in_drops);
    j.Bool("sold_out", s.available == 0);
    j.Uint("sold_out_at_us", topic->sold_out_at_us);
  } else {
    wire::DropRecord d;
    std::memcpy(&d, record, sizeof(d));
    j.Uint("quota", d.quota);
    j.Uint("available", d.available);
    j.Uint("reserved", d.reserved);
    j.Uint("sold", d.sold);
    j.Name("state", DropStateName(d.state));
    j.Bool("sold_out", d.sold_out_at_us != 0);
    j.Uint("sold_out_at_us", d.sold_out_at_us);
  }
  data += '}';
  auto event = std::make_shared<const FeedEvent>(
      FeedEvent{"id: " + std::to_string(topic->seq) + "\nevent: stock\ndata: " + data + "\n\n", data});
  topic->last_event = event;
  for (Connection* session : topic->subscribers) session->SendEvent(event);
  core_->io_metrics.feed_events_total += topic->subscribers.size();
}

// ---- HttpSession -----------------------------------------------------------------------

// A viewer's send buffer is bounded (feed.send_buffer_bytes). Best effort: a socket that
// refuses keeps the kernel's, and the write timeout still applies.
static void SetFeedSendBuffer(tcp::socket& socket, const ServerConfig& config) {
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(config.feed_send_buffer_bytes)), ignored);
}

HttpSession::~HttpSession() { ELEVEN_ASSERT(topic_ == nullptr); }

void HttpSession::Start() {
  if (!stream_.is_tls()) return Read();
  waiting_since_ns_ = MonotonicNs();  // a handshake that stalls is closed by the idle sweep
  stream_.tls().async_handshake(
      asio::ssl::stream_base::server,
      [self = shared_from_this()](const boost::system::error_code& error) {
        if (self->closed_) return;
        if (error) {  // plain HTTP, a bad client certificate, ...
          self->core_->io_metrics.tls_handshake_failures_total++;
          return self->Close();
        }
        self->stream_.set_tls_key_id(tls::KeyIdOfPeer(self->stream_.tls().native_handle()));
        self->Read();
      });
}

bool HttpSession::CloseIfIdle(uint64_t now_ns) {
  if (!closed_ && topic_ != nullptr && FeedWriteTimedOut(*core_, &core_->io_metrics, now_ns)) {
    Close();
    return true;
  }
  const uint64_t idle_ns = uint64_t{core_->config.idle_timeout_ms} * 1'000'000;
  if (closed_ || topic_ != nullptr || waiting_since_ns_ == 0 || now_ns - waiting_since_ns_ < idle_ns) {
    return false;
  }
  core_->io_metrics.idle_closed_total++;
  Close();
  return true;
}

void HttpSession::Read() {
  parser_.emplace();
  parser_->body_limit(core_->config.http_body_size_max);
  parser_->header_limit(core_->config.http_header_size_max);
  waiting_since_ns_ = MonotonicNs();
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](const beast::error_code& error, size_t) { self->OnRead(error); });
}

void HttpSession::OnRead(const beast::error_code& error) {
  if (closed_) return;
  waiting_since_ns_ = 0;
  if (error == http::error::end_of_stream || error == beast::error::timeout ||
      error == asio::error::operation_aborted || error == asio::error::connection_reset) {
    Close();
    return;
  }
  if (error) {
    keep_alive_ = false;
    linger_ = true;  // the rest of the request may still be on its way
    const bool too_big = error == http::error::body_limit || error == http::error::header_limit ||
                         error == http::error::buffer_overflow;
    RespondError(too_big ? 413 : 400, too_big ? "too_large" : "bad_http", error.message());
    return;
  }
  core_->io_metrics.http_requests_total++;
  keep_alive_ = parser_->get().keep_alive();
  Handle();
}

void HttpSession::Handle() {
  const auto& request = parser_->get();
  const auto target = request.target();
  if (!CrossSiteAllowed()) return;
  if (request.method() == http::verb::options) return Preflight();
  const Routed routed = RouteFor(request.method(), std::string_view(target.data(), target.size()));
  switch (routed.route) {
    case Route::kNotFound: return RespondError(404, "not_found", "no such path");
    case Route::kMethodNotAllowed: return RespondError(405, "method_not_allowed", "wrong method for this path");
    case Route::kBadId: return RespondError(400, "invalid_request", "the id in the path must be an unsigned integer");
    case Route::kBadParams: return RespondError(400, routed.bad_cursor ? "bad_cursor" : "invalid_request", routed.message);
    // The contract, to anyone: it holds nothing a key guards.
    case Route::kOpenApiJson: return Respond(http::status::ok, std::string(OpenApiJson()), "application/json");
    case Route::kOpenApiYaml: return Respond(http::status::ok, std::string(kOpenApiYaml), "application/yaml");
    case Route::kHealth: {
      // A failed journal is 503 with its reason (the file and errno), for load balancers.
      const bool failed = core_->loop->journal_failed();
      std::string body = "{";
      JsonOut j(&body);
      j.Name("status", failed ? "failed" : core_->stopping ? "stopping" : "ok");
      if (failed) j.Text("reason", "journal failed: " + core_->loop->journal_failure().ToString());
      j.Uint("op_durable", core_->loop->op_durable());
      j.Uint("op_submitted", core_->engine_metrics->op_submitted.Get());
      body += '}';
      return Respond(failed ? http::status::service_unavailable : http::status::ok, std::move(body));
    }
    default: break;
  }
  if (!Authenticate()) return;
  uint32_t retry_after_s = 0;
  if (!core_->limiter.Take(caller_, 1, MonotonicNs(), &retry_after_s)) {
    core_->io_metrics.rate_limited_total++;
    extra_headers_ += "\r\nRetry-After: " + std::to_string(retry_after_s);
    return RespondError(429, "rate_limited", "over this key's rate limit; retry after " +
                                                 std::to_string(retry_after_s) + " s");
  }
  switch (routed.route) {
    case Route::kMetrics:
      core_->io_metrics.pending_durable = core_->loop->waiting_count();
      core_->io_metrics.op_durable = core_->loop->op_durable();
      core_->io_metrics.journal_failed = core_->loop->journal_failed() ? 1 : 0;
      return Respond(http::status::ok,
                     RenderMetrics(*core_->engine_metrics, core_->io_metrics, core_->pool.in_use(),
                                   core_->pool.bytes_in_flight(),
                                   caller_.role == wire::Role::kOperator || caller_.role == wire::Role::kViewer),
                     "text/plain; version=0.0.4");
    case Route::kCommand: return HandleCommand(routed);
    case Route::kQuery: return HandleQuery(routed);
    case Route::kFeed: return HandleFeed(routed);
    case Route::kList: return HandleList(routed);
    case Route::kClock:
      if (caller_.role != wire::Role::kOperator) {
        return RespondError(403, "forbidden", "only an operator may set the clock");
      }
      return HandleClock();
    default: break;  // answered above
  }
}

// No cross-site writes (docs/access.md): a POST must carry a JSON body (a browser sends one
// cross-site only after a CORS preflight), and a request from a browser page of another
// origin is answered only for origins in http.cors_origins (their replies carry the CORS
// headers). False after answering 415 or 403.
bool HttpSession::CrossSiteAllowed() {
  const auto& request = parser_->get();
  if (request.method() == http::verb::post) {
    const auto type = request[http::field::content_type];
    const std::string_view media(type.data(), std::min(type.size(), type.find(';')));
    if (!beast::iequals(beast::string_view(media.data(), media.size()), "application/json")) {
      core_->io_metrics.cross_site_refused_total++;
      RespondError(415, "unsupported_media_type", "a POST body must be application/json");
      return false;
    }
  }
  const auto origin_header = request.find(http::field::origin);
  if (origin_header == request.end()) return true;
  const std::string origin(origin_header->value());
  const auto& allowed = core_->config.cors_origins;
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) {
    extra_headers_ = "\r\nAccess-Control-Allow-Origin: " + origin + "\r\nVary: Origin";
    return true;
  }
  // A page of the server's own origin (the Origin's host is the Host header) is not cross-site.
  const size_t scheme = origin.find("://");
  const auto host = request[http::field::host];
  if (scheme != std::string::npos && origin.substr(scheme + 3) == std::string_view(host.data(), host.size())) {
    return true;
  }
  core_->io_metrics.cross_site_refused_total++;
  RespondError(403, "forbidden", "requests from origin " + origin + " are not allowed (http.cors_origins)");
  return false;
}

// OPTIONS: a CORS preflight. Allowed origins (CrossSiteAllowed let only those through) learn
// what they may send; a request without an Origin is told the methods.
void HttpSession::Preflight() {
  extra_headers_ +=
      "\r\nAllow: GET, POST, OPTIONS\r\nAccess-Control-Allow-Methods: GET, POST"
      "\r\nAccess-Control-Allow-Headers: Authorization, Content-Type"
      "\r\nAccess-Control-Max-Age: 600";
  Respond(http::status::no_content, "");
}

// Who sends the request (docs/access.md): the key its Authorization header names, else the key
// its verified TLS client certificate names, else the local operator where the config allows
// anonymous requests. False after answering 401.
bool HttpSession::Authenticate() {
  const auto& request = parser_->get();
  const auto header = request.find(http::field::authorization);
  if (header == request.end()) {
    // A verified client certificate naming a key (mTLS), else the local operator if allowed.
    if (tls_key_id() != 0) {
      if (core_->keys.Current()->FindId(tls_key_id(), &caller_)) return true;
      core_->io_metrics.unauthenticated_total++;
      RespondError(401, "unauthenticated",
                   "the client certificate names key " + std::to_string(tls_key_id()) + ", which is unknown or revoked");
      return false;
    }
    if (core_->config.anonymous_operator) {
      caller_ = Caller{0, wire::Role::kOperator, 0};
      return true;
    }
    extra_headers_ += "\r\nWWW-Authenticate: Bearer";
    RespondError(401, "unauthenticated", "no key: send Authorization: Bearer <key>");
    return false;
  }
  const std::string_view value(header->value().data(), header->value().size());
  constexpr std::string_view kScheme = "Bearer ";
  const bool bearer = value.size() > kScheme.size() && value.substr(0, kScheme.size()) == kScheme;
  const std::string_view secret = bearer ? value.substr(kScheme.size()) : std::string_view();
  // A keep-alive client sends the same key again: its id is remembered, so only a lookup by
  // id (the key may have been revoked since) is left, not the secret's hash.
  if (bearer && !last_secret_.empty() && secret == last_secret_ &&
      core_->keys.Current()->FindId(last_secret_key_id_, &caller_)) {
    return true;
  }
  last_secret_.clear();
  if (!bearer || !core_->keys.Current()->Find(secret, &caller_)) {
    core_->io_metrics.unauthenticated_total++;
    extra_headers_ += "\r\nWWW-Authenticate: Bearer error=\"invalid_token\"";
    RespondError(401, "unauthenticated",
                 bearer ? "the key is unknown or revoked" : "the Authorization header must be Bearer <key>");
    return false;
  }
  last_secret_.assign(secret);
  last_secret_key_id_ = caller_.key_id;
  return true;
}

// POST /clock: set_clock over HTTP (docs/protocol.md); the engine loop answers it in log order.
void HttpSession::HandleClock() {
  std::string& body = parser_->get().body();
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);  // simdjson reads past the end
  uint64_t at_us = 0;
  JsonDecodeError decode_error;
  if (!DecodeJsonClock(simdjson::padded_string_view(body.data(), body.size(), body.capacity()),
                       &state_->json, &at_us, &decode_error)) {
    return RespondError(400, decode_error.code, decode_error.message);
  }
  const protocol::Operation op = protocol::Operation::kSetClock;
  Request* r = Take(protocol::kHeaderSize + protocol::ReplyRecordSize(op));
  if (r == nullptr) return;
  r->kind = RequestKind::kSetClock;
  r->operation = op;
  r->count = 1;
  r->caller = caller_;
  r->ids.assign(1, at_us);
  core_->loop->Push(r);
}

void HttpSession::HandleCommand(const Routed& routed) {
  std::string& body = parser_->get().body();
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);  // simdjson reads past the end
  std::span<wire::Command> commands(state_->commands);
  size_t count = 0;
  bool batch = false;
  JsonDecodeError decode_error;
  if (!DecodeJsonCommands(routed.command, routed.id,
                          simdjson::padded_string_view(body.data(), body.size(), body.capacity()),
                          &state_->json, commands, &count, &batch, &decode_error)) {
    wire::Code code;
    const int status = wire::CodeFromName(decode_error.code, &code) ? wire::CodeHttpStatus(code) : 400;
    return RespondError(status, decode_error.code, decode_error.message);
  }
  // The engine loop takes a request whole into one batch (docs/server.md, batch_commands_max).
  const uint32_t batch_max = core_->config.engine.batch_command_count_max;
  if (count > batch_max) {
    return RespondError(400, "invalid_request",
                        "the body makes " + std::to_string(count) + " commands; the server's batch holds " +
                            std::to_string(batch_max));
  }
  // The issuer is the key that authenticated, whatever the body said (docs/access.md).
  for (size_t i = 0; i < count; i++) wire::SetIssuer(commands[i], caller_.key_id);
  new_secret_.clear();
  if (routed.command == JsonCommand::kCreateKey) {
    // The server makes the secret; the log and the state keep only its hash.
    new_secret_ = client::NewKeySecret();
    const client::KeySecretHash hash = client::HashKeySecret(new_secret_);
    std::memcpy(commands[0].bytes + offsetof(wire::CreateKey, secret_sha256), hash.data(), hash.size());
  }
  Request* r = Take(protocol::kHeaderSize + count * wire::kCommandSize);
  if (r == nullptr) return;
  r->kind = RequestKind::kSubmit;
  r->operation = protocol::Operation::kSubmit;
  r->count = static_cast<uint32_t>(count);
  r->caller = caller_;
  r->sink_tag = batch ? kBatchReply : 0;
  std::memcpy(r->body(), commands.data(), count * wire::kCommandSize);
  core_->loop->Push(r);
}

void HttpSession::HandleQuery(const Routed& routed) {
  const auto key = std::span(routed.key.data(), routed.key_words);
  const uint32_t entries_max = protocol::ReplyEntryCountMax(routed.query, 1, std::as_bytes(key));
  Request* r = Take(protocol::kHeaderSize + entries_max * protocol::ReplyRecordSize(routed.query));
  if (r == nullptr) return;
  r->kind = RequestKind::kQuery;
  r->operation = routed.query;
  r->count = 1;
  r->caller = caller_;
  r->ids.assign(key.begin(), key.end());
  core_->loop->Push(r);
}

// A request for this session from the pool, or nullptr after answering busy.
Request* HttpSession::Take(size_t buffer_size) {
  Request* r = core_->stopping ? nullptr : core_->pool.Take(buffer_size);
  if (r == nullptr) {
    core_->io_metrics.busy_replies_total++;
    RespondError(503, "busy", "the server is at its limit of requests in flight; retry");
    return nullptr;
  }
  r->received_ns = MonotonicNs();
  r->sink = shared_from_this();
  r->sink_tag = 0;
  return r;
}

void HttpSession::OnRequestDone(Request* r) {
  core_->RecordDone(*r);
  const protocol::FrameStatus status = r->status;
  wire::Code code = wire::Code::ok;
  bool replayed = false;
  std::string body;
  if (status == protocol::FrameStatus::kOk) {
    body = r->kind == RequestKind::kSubmit ? SubmitReplyJson(*r, &code, &replayed)
                                           : QueryReplyJson(*r, &code);
    // A read says the log op of the state it was answered from (a follower's lags the
    // leader's: docs/cluster.md); a write, the op of the entry that applied it (or, refused
    // before the log, of the state it was checked against).
    if (r->op != 0) extra_headers_ += "\r\nEleven-Op: " + std::to_string(r->op);
  }
  if (!new_secret_.empty()) {
    // POST /keys: the secret, shown this once (only its hash was logged).
    if (code == wire::Code::ok && body.size() >= 2 && body.front() == '{') {
      body.insert(1, "\"secret\":\"" + new_secret_ + "\",");
    }
    new_secret_.clear();
  }
  core_->pool.Give(r);
  if (closed_) return;
  if (status == protocol::FrameStatus::kNotLeader) {
    const replica::ReplicaRole* role = core_->role;
    const std::string leader = role != nullptr ? role->leader_http_address() : "";
    if (!leader.empty() && ForwardToLeader(leader)) return;
    if (!leader.empty()) extra_headers_ += "\r\nEleven-Leader: " + leader;
    return RespondError(
        503, "not_leader",
        leader.empty() ? "this node is a cluster follower and knows no leader now: retry shortly"
                       : "this node is a cluster follower: send writes to the leader at " + leader);
  }
  if (status != protocol::FrameStatus::kOk) {
    return RespondError(503, protocol::FrameStatusName(status),
                        "the journal failed (" + std::string(StatusCodeName(core_->loop->journal_failure().code())) +
                            "): nothing is recorded or read until the server is restarted (see /healthz)");
  }
  Respond(static_cast<http::status>(wire::CodeHttpStatus(code)), std::move(body),
          "application/json", replayed);
}

// A write a follower was asked for goes on to the leader, with the client's key, and the
// leader's reply comes back as it is (docs/cluster.md, "Roles on the wire"). Not over TLS
// (the client's certificate cannot go with it), and never twice: a write another node sent
// on carries Eleven-Forwarded-By and is answered not_leader here. False: answer not_leader.
bool HttpSession::ForwardToLeader(const std::string& leader) {
  const ServerConfig& config = core_->config;
  const auto& request = parser_->get();
  if (!config.cluster.forward_writes || stream_.is_tls() || request.count("Eleven-Forwarded-By") != 0) {
    return false;
  }
  LeaderForwarder::Request upstream{request.method(), request.target(), 11};
  upstream.set(http::field::host, leader);
  upstream.set(http::field::content_type, request[http::field::content_type]);
  if (request.count(http::field::authorization) != 0) {
    upstream.set(http::field::authorization, request[http::field::authorization]);
  }
  upstream.set("Eleven-Forwarded-By", config.cluster.node);
  upstream.body() = request.body();
  if (!forwarder_) forwarder_ = std::make_shared<LeaderForwarder>(stream_.socket().get_executor());
  core_->io_metrics.http_forwarded_total++;
  const std::chrono::milliseconds timeout(config.cluster.lease_ms + config.cluster.ack_timeout_ms);
  forwarder_->Forward(leader, std::move(upstream), timeout,
                      [self = shared_from_this(), leader](const boost::system::error_code& error,
                                                          LeaderForwarder::Response* response) {
                        self->OnForwarded(error, response, leader);
                      });
  return true;
}

void HttpSession::OnForwarded(const boost::system::error_code& error, LeaderForwarder::Response* response,
                              const std::string& leader) {
  if (closed_) return;
  if (error) {
    core_->io_metrics.http_forward_failed_total++;
    extra_headers_ += "\r\nEleven-Leader: " + leader;
    return RespondError(503, "not_leader",
                        "this node is a cluster follower, and sending the write on to the leader at " + leader +
                            " failed (" + error.message() + "): retry; the same request is safe to send again");
  }
  // The leader's own not_leader (it was just deposed) names whom it knows.
  if (response->count("Eleven-Leader") != 0) {
    extra_headers_ += "\r\nEleven-Leader: " + std::string(response->at("Eleven-Leader"));
  } else {
    extra_headers_ += "\r\nEleven-Leader: " + leader;
  }
  if (response->count(http::field::retry_after) != 0) {
    extra_headers_ += "\r\nRetry-After: " + std::string(response->at(http::field::retry_after));
  }
  const bool replayed = response->count("Idempotent-Replayed") != 0;
  forwarded_content_type_ = response->count(http::field::content_type) != 0
                                ? std::string(response->at(http::field::content_type))
                                : "application/octet-stream";
  Respond(response->result(), std::move(response->body()), forwarded_content_type_.c_str(), replayed);
}

void HttpSession::Respond(http::status status, std::string body, const char* content_type,
                          bool replayed) {
  reply_body_ = std::move(body);
  ReplyHead(status, content_type, reply_body_.size(), keep_alive_, replayed, extra_headers_, &reply_head_);
  extra_headers_.clear();
  const bool close = !keep_alive_;
  waiting_since_ns_ = MonotonicNs();
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(reply_head_), asio::buffer(reply_body_)};
  asio::async_write(stream_, buffers,
                    [self = shared_from_this(), close](const boost::system::error_code& error,
                                                       size_t) { self->OnWrite(error, close); });
}

void HttpSession::OnWrite(const beast::error_code& error, bool close) {
  if (closed_) return;
  if (!error && close && linger_ && !stream_.is_tls()) return Linger();
  if (error || close) {
    Close();
    return;
  }
  Read();
}

// After refusing a request it did not read whole (a body over the limit, bad HTTP): the
// client may still be sending it, and closing with its bytes unread would reset the
// connection and could destroy the reply before the client read it. So, as nginx's
// lingering close does, the sending side is shut down and what arrives is read and dropped
// until the client closes, kLingerBytesMax have come, or the idle sweep ends it.
void HttpSession::Linger() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  waiting_since_ns_ = MonotonicNs();
  linger_left_ = kLingerBytesMax;
  linger_buffer_ = std::make_unique<char[]>(kLingerBufferSize);
  LingerRead();
}

void HttpSession::LingerRead() {
  stream_.socket().async_read_some(
      asio::buffer(linger_buffer_.get(), kLingerBufferSize),
      [self = shared_from_this()](const boost::system::error_code& error, size_t n) {
        if (self->closed_) return;
        if (error || n >= self->linger_left_) return self->Close();
        self->linger_left_ -= n;
        self->LingerRead();
      });
}

// A list page from the snapshot follower's view (docs/read-side.md), on this thread: the view
// is read under its lock for one page. A request with min_op past the view waits for the
// follower (woken now) up to read.wait_ms, polled on a timer: the thread serves others meanwhile.
void HttpSession::HandleList(const Routed& routed) {
  if (core_->read_view == nullptr) {
    return RespondError(503, "lists_unavailable",
                        "lists are answered beside the snapshot follower: this server has none "
                        "([snapshot] mode = \"fork\", [read] lists = false, or cluster mode)");
  }
  ListQuery query;
  std::string message;
  bool bad_cursor = false;
  if (!ParseListQuery(routed.list, routed.id, routed.params, &query, &message, &bad_cursor)) {
    return RespondError(400, bad_cursor ? "bad_cursor" : "invalid_request", message);
  }
  if (!RestrictToCaller(caller_, &query.request)) {
    return RespondError(403, "forbidden", "this key's role may not read this list");
  }
  query.request.scan_max = core_->config.read_scan_max;
  AnswerList(query, MonotonicNs() + uint64_t{core_->config.read_wait_ms} * 1'000'000);
}

void HttpSession::AnswerList(const ListQuery& query, uint64_t deadline_ns) {
  const view::ReadView& view = *core_->read_view;
  if (!view.ready() || view.op() < query.min_op) {
    if (MonotonicNs() >= deadline_ns) {
      extra_headers_ += "\r\nRetry-After: 1";
      return RespondError(503, "not_yet",
                          view.ready() ? "the lists are at op " + std::to_string(view.op()) + ", before min_op " +
                                             std::to_string(query.min_op) + "; retry"
                                       : "the lists' state is still being loaded; retry");
    }
    view.WakeFollower();
    auto timer = std::make_shared<asio::steady_timer>(core_->io, std::chrono::milliseconds(2));
    timer->async_wait([self = shared_from_this(), timer, query, deadline_ns](const boost::system::error_code& error) {
      if (error || self->closed_) return;
      self->AnswerList(query, deadline_ns);
    });
    return;
  }
  const view::ListPage page = view.List(query.request);
  if (page.detached) {
    extra_headers_ += "\r\nRetry-After: 1";
    return RespondError(503, "not_yet", "the lists' state is being loaded again; retry");
  }
  if (page.code != wire::Code::ok) {
    return RespondError(wire::CodeHttpStatus(page.code), wire::CodeName(page.code), "not found");
  }
  extra_headers_ += "\r\nEleven-Op: " + std::to_string(page.op);
  Respond(http::status::ok, ListJson(query.request, page));
}

void HttpSession::HandleFeed(const Routed& routed) {
  if (routed.topic == TopicKind::kFigures && caller_.role != wire::Role::kOperator &&
      caller_.role != wire::Role::kViewer) {
    return RespondError(403, "forbidden", "the sales figures are for operators and viewers");
  }
  if (websocket::is_upgrade(parser_->get())) return UpgradeFeed(routed);
  topic_ = state_->feed->Subscribe(this, routed.topic, routed.id);
  if (topic_ == nullptr) {
    return RespondError(503, "busy", "the feed is at its limit of subscribers or topics");
  }
  // From here the connection is a one-way stream of events until the viewer goes away.
  SetFeedSendBuffer(stream_.socket(), core_->config);
  parser_.reset();
  buffer_.clear();
  buffer_.shrink_to_fit();
  sse_header_ = std::make_unique<http::response<http::empty_body>>(http::status::ok, 11);
  sse_header_->set(http::field::content_type, "text/event-stream");
  sse_header_->set(http::field::cache_control, "no-cache");
  sse_header_->keep_alive(false);
  event_writing_ = std::make_shared<const FeedEvent>();  // marks "writing" during the header
  feed_writing_since_ns = MonotonicNs();
  http::async_write(stream_, *sse_header_,
                    [self = shared_from_this()](const beast::error_code& error, size_t) {
                      self->sse_header_.reset();
                      self->event_writing_.reset();
                      self->feed_writing_since_ns = 0;
                      if (error) return self->Close();
                      if (!self->event_next_ && self->topic_ && self->topic_->last_event) {
                        self->event_next_ = self->topic_->last_event;
                      }
                      self->WriteEvent();
                      self->WatchFeedClose();
                    });
}

// The same feed over WebSocket: this session's socket goes to a WsFeedSession, which takes
// its place (and its id) among the listener's connections.
void HttpSession::UpgradeFeed(const Routed& routed) {
  if (!state_->feed->HasRoom(routed.topic, routed.id)) {
    return RespondError(503, "busy", "the feed is at its limit of subscribers or topics");
  }
  http::request<http::string_body> request = parser_->release();
  parser_.reset();
  SetFeedSendBuffer(stream_.socket(), core_->config);
  auto viewer = std::make_shared<WsFeedSession>(core_, state_, std::move(stream_), id_);
  closed_ = true;  // done here: the connection (and its count in the metrics) is the viewer's
  state_->sessions[id_] = viewer;  // our caller's handler still holds `self`
  viewer->Start(std::move(request), routed.topic, routed.id);
}

void HttpSession::SendEvent(std::shared_ptr<const FeedEvent> event) {
  event_next_ = std::move(event);
  if (!event_writing_) WriteEvent();
}

void HttpSession::WriteEvent() {
  if (closed_ || event_writing_ || !event_next_) return;
  event_writing_ = std::move(event_next_);
  event_next_.reset();
  feed_writing_since_ns = MonotonicNs();
  asio::async_write(stream_, asio::buffer(event_writing_->sse),
                    [self = shared_from_this()](const boost::system::error_code& error, size_t) {
                      self->event_writing_.reset();
                      self->feed_writing_since_ns = 0;
                      if (error) return self->Close();
                      self->WriteEvent();
                    });
}

// A viewer sends nothing after its request; a read that ends tells us it has gone.
void HttpSession::WatchFeedClose() {
  stream_.async_read_some(
      asio::buffer(discard_),
      [self = shared_from_this()](const boost::system::error_code& error, size_t) {
        if (error) return self->Close();
        self->WatchFeedClose();
      });
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  if (forwarder_) forwarder_->Close();
  state_->End(this, &topic_, stream_.socket(), id_);
}

// ---- WsFeedSession ---------------------------------------------------------------------

void WsFeedSession::Start(http::request<http::string_body> request, TopicKind kind, uint64_t topic_id) {
  topic_ = state_->feed->Subscribe(this, kind, topic_id);
  ELEVEN_ASSERT(topic_ != nullptr);  // HasRoom said so, on this same thread
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.read_message_max(1024);
  ws_.text(true);
  ws_.async_accept(request, [self = shared_from_this()](const beast::error_code& error) {
    if (error) return self->Close();
    self->open_ = true;
    if (!self->event_next_ && self->topic_ && self->topic_->last_event) {
      self->event_next_ = self->topic_->last_event;
    }
    self->WriteEvent();
    self->Read();
  });
}

void WsFeedSession::SendEvent(std::shared_ptr<const FeedEvent> event) {
  event_next_ = std::move(event);
  if (open_) WriteEvent();
}

void WsFeedSession::WriteEvent() {
  if (closed_ || event_writing_ || !event_next_) return;
  event_writing_ = std::move(event_next_);
  event_next_.reset();
  feed_writing_since_ns = MonotonicNs();
  ws_.async_write(asio::buffer(event_writing_->json),
                  [self = shared_from_this()](const beast::error_code& error, size_t) {
                    self->event_writing_.reset();
                    self->feed_writing_since_ns = 0;
                    if (error) return self->Close();
                    self->WriteEvent();
                  });
}

// Pings, pongs and the closing handshake are Beast's; a read that fails means the viewer has
// gone (closed, timed out, or sent more than 1 KiB at once).
void WsFeedSession::Read() {
  ws_.async_read(buffer_, [self = shared_from_this()](const beast::error_code& error, size_t) {
    if (error) return self->Close();
    self->buffer_.clear();
    self->Read();
  });
}

void WsFeedSession::Close() {
  if (closed_) return;
  closed_ = true;
  state_->End(this, &topic_, ws_.next_layer().socket(), id_);
}

// ---- HttpListener ----------------------------------------------------------------------

std::vector<std::string> HttpRoutes() {
  std::vector<std::string> routes;
  for (const RouteRow& row : kRoutes) {
    routes.push_back(std::string(http::to_string(row.method)) + " " + std::string(row.pattern));
  }
  return routes;
}

// A connection over http.connections: one non-blocking write of a fixed 503 (whatever the
// socket takes at once; nothing is read or parsed, nothing waits), then closed. On a TLS
// listener it is only closed: plain bytes would be no answer to a TLS client.
static void RefuseOverLimit(tcp::socket& socket, bool tls) {
  static constexpr std::string_view kBody =
      R"({"error":"busy","message":"the server is at its limit of HTTP connections (http.connections); retry"})";
  static const std::string reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                   "Content-Length: " + std::to_string(kBody.size()) +
                                   "\r\nConnection: close\r\n\r\n" + std::string(kBody);
  boost::system::error_code ignored;
  if (!tls) socket.non_blocking(true, ignored);
  if (!tls && !ignored) socket.write_some(asio::buffer(reply), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void HttpListener::State::Accept() {
  acceptor.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    if (error == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!error) {
      boost::system::error_code ignored;
      if (sessions.size() >= core->config.http_connection_count_max || core->stopping) {
        if (!core->stopping) core->io_metrics.http_connections_refused++;
        RefuseOverLimit(socket, tls != nullptr);
      } else {
        socket.set_option(tcp::no_delay(true), ignored);
        const uint64_t id = next_id++;
        net::Stream stream =
            tls != nullptr ? net::Stream(std::move(socket), *tls) : net::Stream(std::move(socket));
        auto session = std::make_shared<HttpSession>(core, this, std::move(stream), id);
        sessions.emplace(id, session);
        core->io_metrics.http_connections++;
        session->Start();
      }
    }
    Accept();
  });
}

void HttpListener::State::RateTick() {
  rate_timer.expires_after(kRateWindow);
  rate_timer.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    const uint64_t accepted = core->engine_metrics->orders_accepted.Get();
    core->io_metrics.orders_per_second = accepted - core->io_metrics.orders_seen_;
    core->io_metrics.orders_seen_ = accepted;
    // The idle sweep rides on the same tick.
    const uint64_t now_ns = MonotonicNs();
    std::vector<std::shared_ptr<Connection>> all;
    all.reserve(sessions.size());
    for (auto& [id, session] : sessions) all.push_back(session);  // Close() erases from the map
    for (auto& session : all) session->CloseIfIdle(now_ns);
    RateTick();
  });
}

HttpListener::HttpListener(Core* core, asio::ssl::context* tls)
    : state_(std::make_unique<State>(core, tls)) {}
HttpListener::~HttpListener() { CloseAll(); }

Status HttpListener::Listen(const std::string& host, uint16_t port, int bound_fd) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("bad http address '" + host + "': " + ec.message());
  auto& acceptor = state_->acceptor;
  acceptor.assign(tcp::endpoint(address, port).protocol(), bound_fd, ec);
  if (ec) return Status::IOError("http listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  state_->port = acceptor.local_endpoint(ec).port();
  return Status::Ok();
}

uint16_t HttpListener::port() const { return state_->port; }

void HttpListener::Start() {
  state_->Accept();
  state_->RateTick();
  state_->feed->Start();
}

void HttpListener::StopAccepting() {
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  state_->rate_timer.cancel();
  state_->feed->Stop();
}

void HttpListener::CloseAll() {
  StopAccepting();
  auto sessions = state_->sessions;
  for (auto& [id, session] : sessions) session->Close();
  state_->sessions.clear();
}

}  // namespace eleven::server
