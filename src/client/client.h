// The eleven C++ client: batches of commands and queries over the binary protocol
// (docs/protocol.md), asynchronously.
//
//   std::unique_ptr<eleven::client::Client> client;
//   Status s = Client::Connect({.address = "127.0.0.1:7011", .key = secret}, &client);
//   client->Submit(commands, [](const Status& s, std::span<const wire::Result> results) {...});
//   client->Add(one_command, [](const Status& s, const wire::Result& r) {...});  // auto-batched
//
// Threads: a Client runs one I/O thread of its own, or shares an EventLoop's with other
// Clients (ClientOptions::loop: many connections, one thread). Every public method is
// thread-safe and never blocks on the network (the *Sync helpers wait for their reply).
// Callbacks run on the I/O thread, in reply order; they may call the Client again but must
// not block, and must neither connect nor destroy a Client (both wait for that thread).
//
// Authentication (docs/protocol.md, "Authentication"): with a key, every connection (the
// first and each reconnect) starts with an authenticate frame carrying the secret, and every
// frame after it names the key id the server answered as its client_id. A key the server
// refuses (unknown, malformed, revoked) fails Connect, or every waiting request after a
// reconnect, with FailedPrecondition("unauthenticated: ..."). Without a key the client sends
// client_id 0, which only a server with `access.anonymous = "operator"` accepts.
//
// Reliability: a request that gets no reply because the connection broke is re-sent, byte
// for byte (same commands, hence the same idempotency keys), after reconnecting: the engine
// answers a repeated place-order with the first attempt's result, so a retry never places a
// second order. Commands without a key (create_merchant, restock, ...) may then answer e.g.
// merchant_exists for their second delivery. A "busy" reply is retried after a pause. A
// request not answered within request_timeout_ms fails with Unavailable (it may still have
// been applied: ask for the order by its idempotency key).
//
// Failover (a replica set, docs/protocol.md "Failover"): ClientOptions::addresses (or a
// comma-separated `address`) names the nodes. Connect tries them in turn, each for up to
// connect_timeout_ms, until one connects and accepts the key (none accepting it fails
// Connect unauthenticated). A not_leader reply sends the client to the leader its body
// names (even one not in the list), or to the next address when it names none; with several
// addresses, a replica_failed or shutting_down reply sends it to the next address, and so
// does a connection that breaks with requests in flight (one closed with nothing in flight,
// an idle close, is tried again first). Each time every request without a reply yet is
// re-sent there byte for byte, as above, so nothing is applied twice. The hunt, from the
// moment a node last served until one serves again, is bounded like reconnects: the first
// try at once, each later one after reconnect_delay_ms, at most reconnect_attempts_max
// tries; then every waiting request fails with Unavailable("no node of ... serves: ...").
// With one address, replica_failed fails its request with IOError("server replica_failed")
// and shutting_down with Unavailable("server shutting_down").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "client/protocol.h"
#include "wire/access.h"
#include "wire/fulfilment.h"
#include "wire/ledger.h"
#include "wire/records.h"

namespace eleven::client {

// An I/O thread for Clients to share. It runs until the last Client using it and the last
// shared_ptr to it are gone; it must not be released on its own thread.
class EventLoop {
 public:
  EventLoop();   // starts the thread
  ~EventLoop();  // stops and joins it
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

 private:
  friend class Client;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The most nodes a client is given (ClientOptions::addresses).
inline constexpr size_t kAddressCountMax = 16;

struct ClientOptions {
  // The node, host:port; or several, comma-separated ("a:7011,b:7011,c:7011"), as `addresses`.
  std::string address = "127.0.0.1:7011";
  // The nodes of a replica set (1..kAddressCountMax, host:port each), tried in this order;
  // when non-empty, `address` is not used.
  std::vector<std::string> addresses;
  // An API key's secret ("ek_..."; docs/access.md). Empty: no authentication (anonymous,
  // accepted only by a loopback server configured to allow it).
  std::string key;
  uint32_t batch_command_count_max = 8190;  // largest batch (Submit splits nothing: it refuses)
  uint32_t linger_us = 200;                 // Add(): wait this long for more commands
  uint32_t requests_in_flight_max = 64;     // more wait in the client until replies come
  uint32_t request_timeout_ms = 30000;
  uint32_t connect_timeout_ms = 5000;  // each try at a node: connect, TLS, authenticate
  uint32_t reconnect_delay_ms = 20;    // between tries (reconnects and followed redirects)
  // Then every waiting request fails: 1500 tries 20 ms apart ride out a 30 s restart
  // (recovery of a long journal, or a slow machine) or failover.
  uint32_t reconnect_attempts_max = 1500;
  uint32_t busy_retry_delay_ms = 2;
  // With several addresses: a node that answers nothing for this long while requests wait on
  // it (stalled, paused, cut off) is left for the next one, and they are re-sent there. 0 =
  // never (a stalled node is then waited for, up to request_timeout_ms).
  uint32_t silent_node_ms = 3000;
  uint32_t reply_body_size_max = 8190 * 168;
  std::shared_ptr<EventLoop> loop;  // null: the Client starts a thread of its own
  // TLS (a server with [tls], docs/server.md): set tls_ca_file to connect over TLS 1.2 or
  // later, trusting the CA certificates in that PEM file; the server's certificate must
  // verify against them and name tls_server_name ("" = the host of the node's address) as a DNS
  // name or IP address. tls_cert_file and tls_key_file (PEM, both or neither) give a client
  // certificate (mTLS: CN=eleven-key-<id> names a key, docs/access.md). A failed handshake
  // fails Connect (Unavailable, with OpenSSL's reason); a bad file fails it with
  // InvalidArgument naming the file.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
};

// A replica set's addresses from "host:port,host:port,..." (one or more, each host:port;
// the host a name, an IPv4 address or a bracketed IPv6 one); InvalidArgument naming the bad
// one otherwise.
[[nodiscard]] Status ParseAddresses(const std::string& list, std::vector<std::string>* addresses);
// The same check of a list already split: 1..kAddressCountMax addresses, each host:port.
[[nodiscard]] Status CheckAddresses(const std::vector<std::string>& addresses);

using SubmitCallback = std::function<void(const Status&, std::span<const wire::Result>)>;
using CommandCallback = std::function<void(const Status&, const wire::Result&)>;
// Query reply entries: each is code:u16, 6 reserved bytes, then the record (see protocol.h).
using QueryCallback = std::function<void(const Status&, std::span<const std::byte> entries)>;

struct SubmitOutcome {
  Status status;
  std::vector<wire::Result> results;
};

struct ClientStats {
  uint64_t requests_sent = 0;
  uint64_t resends = 0;
  uint64_t busy_replies = 0;
  uint64_t reconnects = 0;  // connections made after the first
  uint64_t timeouts = 0;
  uint64_t silent_nodes = 0;  // nodes left after silent_node_ms without a reply
  uint64_t redirects = 0;     // not_leader replies followed
};

class Client {
 public:
  // Connects (waiting up to connect_timeout_ms for the first connection) and starts reading
  // on the options' loop, or on a thread of its own.
  [[nodiscard]] static Status Connect(const ClientOptions& options, std::unique_ptr<Client>* client);
  // Fails what is still waiting (Submit, Add, Query) with Unavailable("client closed") and
  // returns once the I/O thread holds nothing of this Client; joins the thread if its own.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request of 1..batch_command_count_max commands; `callback` gets one result per command.
  void Submit(std::span<const wire::Command> commands, SubmitCallback callback);
  std::future<SubmitOutcome> Submit(std::span<const wire::Command> commands);
  // One command, sent with others added within linger_us (or as soon as a batch is full).
  void Add(const wire::Command& command, CommandCallback callback);
  // A query, `keys` being its request records as u64 words (docs/protocol.md, "Queries"):
  // by-key operations take 1..1024 records (an id each, or a PairQuery of two words); list
  // operations one record (kGetTimeline a waybill, kGetAccountTransfers an
  // AccountTransfersQuery of three words); keyless operations and kPing none.
  void Query(protocol::Operation operation, std::span<const uint64_t> keys, QueryCallback callback);

  // Blocking helpers (not from a callback).
  [[nodiscard]] Status SubmitSync(std::span<const wire::Command> commands,
                                  std::vector<wire::Result>* results);
  [[nodiscard]] Status GetOrder(uint64_t order_id, wire::Code* code, wire::OrderRecord* record);
  [[nodiscard]] Status GetOrderByKey(uint64_t key, wire::Code* code, wire::OrderRecord* record);
  [[nodiscard]] Status GetMerchant(uint64_t merchant_id, wire::Code* code, wire::MerchantRecord* record);
  [[nodiscard]] Status GetSku(uint64_t sku_id, wire::Code* code, wire::SkuRecord* record);
  [[nodiscard]] Status GetDrop(uint64_t drop_id, wire::Code* code, wire::DropRecord* record);
  // Coupons (docs/promotions.md): a coupon, and a buyer's claim of one.
  [[nodiscard]] Status GetCoupon(uint64_t coupon_id, wire::Code* code, wire::CouponRecord* record);
  [[nodiscard]] Status GetCouponClaim(uint64_t coupon_id, uint64_t buyer_id, wire::Code* code,
                                      wire::CouponClaimRecord* record);
  // Pre-sales: a pre-sale, and a buyer's deposit on one.
  [[nodiscard]] Status GetPresale(uint64_t presale_id, wire::Code* code, wire::PresaleRecord* record);
  [[nodiscard]] Status GetDeposit(uint64_t presale_id, uint64_t buyer_id, wire::Code* code,
                                  wire::DepositRecord* record);
  // Ledger (docs/ledger.md). *code is ok or why not (e.g. account_not_found,
  // payments_disabled); the record is filled when it is ok.
  [[nodiscard]] Status GetAccount(uint64_t account_id, wire::Code* code, wire::AccountRecord* record);
  [[nodiscard]] Status GetTransfer(uint64_t transfer_id, wire::Code* code, wire::TransferRecord* record);
  [[nodiscard]] Status GetOrderMoney(uint64_t order_id, wire::Code* code, wire::OrderMoneyRecord* record);
  [[nodiscard]] Status GetPlan(uint64_t order_id, wire::Code* code, wire::PlanRecord* record);
  [[nodiscard]] Status GetMerchantCredit(uint64_t merchant_id, wire::Code* code,
                                         wire::MerchantCreditRecord* record);
  [[nodiscard]] Status GetBuyerCredit(uint64_t buyer_id, wire::Code* code, wire::BuyerCreditRecord* record);
  // The account's transfers, newest first, at most `limit` (1..kAccountTransfersMax), after
  // transfer `after_transfer_id` (0: from the newest; the last of a page for the next one);
  // flags: wire::AccountTransfersFlags (0 = both sides).
  [[nodiscard]] Status GetAccountTransfers(uint64_t account_id, uint8_t flags, uint32_t limit,
                                           wire::Code* code, std::vector<wire::TransferRecord>* transfers,
                                           uint64_t after_transfer_id = 0);
  // Fulfilment (docs/fulfilment.md).
  [[nodiscard]] Status GetParcel(uint64_t waybill, wire::Code* code, wire::ParcelRecord* record);
  [[nodiscard]] Status GetWarehouse(uint64_t warehouse_id, wire::Code* code, wire::WarehouseRecord* record);
  [[nodiscard]] Status GetCourier(uint64_t courier_id, wire::Code* code, wire::CourierRecord* record);
  [[nodiscard]] Status GetShipment(uint64_t order_id, wire::Code* code, wire::ShipmentRecord* record);
  [[nodiscard]] Status GetTimeline(uint64_t waybill, wire::Code* code, std::vector<wire::TimelineEntry>* events);
  [[nodiscard]] Status GetFigures(wire::Code* code, wire::FiguresRecord* record);
  // The sales figures (docs/read-side.md, "Live figures"): every bucket with a sale, then up
  // to `drop_limit` (0..kSalesDropsMax) drops, newest first. Viewers and operators.
  [[nodiscard]] Status GetSales(uint32_t drop_limit, wire::Code* code, std::vector<wire::SalesRecord>* sales);
  [[nodiscard]] Status GetWarehouseStock(uint64_t warehouse_id, uint64_t sku_id, wire::Code* code,
                                         protocol::WarehouseStockRecord* record);
  [[nodiscard]] Status GetWarehouseHour(uint64_t warehouse_id, uint64_t hour_index, wire::Code* code,
                                        wire::HourFigure* record);
  [[nodiscard]] Status GetCourierHour(uint64_t courier_id, uint64_t hour_index, wire::Code* code,
                                      wire::HourFigure* record);
  // The engine's last op, its log time and the state digest (a pass over the whole state on
  // the server's engine thread: for audits and tests, not for polling).
  [[nodiscard]] Status GetDigest(protocol::DigestRecord* record);
  // The engine's counters (orders paid, expired, delivered, ...) and its capacities and
  // modules (what fits; equal limits and equal logs give equal digests).
  [[nodiscard]] Status GetStats(wire::StatsRecord* record);
  [[nodiscard]] Status GetLimits(wire::LimitsRecord* record);
  // Returns once everything the server applied before it is durable.
  [[nodiscard]] Status Ping();
  // Simulation and replays only, on a server in client-clock mode: the batches sent after
  // this request are stamped with `log_time_us` (it never goes back). *code is ok,
  // clock_is_wall (the server uses its wall clock) or clock_backwards; *record holds the
  // server's clock and mode either way. For a pipelined driver: Query(kSetClock, {time}, ...).
  [[nodiscard]] Status SetClock(uint64_t log_time_us, wire::Code* code, protocol::ClockRecord* record);

  // Keys (operators only; docs/access.md). CreateKey makes a secret, submits a create_key of
  // its hash and, if the engine accepted it, fills *secret (shown nowhere else: keep it) and
  // *key_id. *code is the command's result (ok, forbidden, merchant_not_found, ...).
  [[nodiscard]] Status CreateKey(wire::Role role, uint64_t scope_id, wire::Code* code, uint64_t* key_id,
                                 std::string* secret);
  [[nodiscard]] Status RevokeKey(uint64_t key_id, wire::Code* code);
  [[nodiscard]] Status GetKey(uint64_t key_id, wire::Code* code, wire::KeyRecord* record);

  // The key this client authenticated as (its id, role and scope); key_id 0 without a key.
  protocol::AuthenticatedRecord authenticated() const;
  ClientStats stats() const;

 private:
  struct Impl;
  explicit Client(std::shared_ptr<Impl> impl);
  // One entry (by-key with one key, or keyless) into *code and `record`.
  [[nodiscard]] Status QuerySync(protocol::Operation operation, std::span<const uint64_t> key,
                                 wire::Code* code, void* record, size_t record_size);
  // A keyless query whose entry is always ok (digest, stats, limits).
  [[nodiscard]] Status KeylessSync(protocol::Operation operation, void* record, size_t record_size);
  // A list query's entries: their records appended to `records`, or the refusing code.
  template <typename Record>
  [[nodiscard]] Status QueryListSync(protocol::Operation operation, std::span<const uint64_t> key,
                                     wire::Code* code, std::vector<Record>* records);
  std::shared_ptr<Impl> impl_;  // also held by its pending I/O handlers
};

}  // namespace eleven::client
