#include "server/config.h"

#include <charconv>
#include <optional>
#include <boost/asio/ip/address.hpp>
#include <toml++/toml.h>

namespace eleven::server {

namespace {

template <typename T>
void Read(const toml::table& table, std::string_view section, std::string_view key, T* value,
          std::string* error) {
  const toml::node_view<const toml::node> node = table[section][key];
  if (!node) return;
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
    if (auto v = node.template value_exact<T>()) {
      *value = *v;
      return;
    }
  } else {
    if (auto v = node.value<int64_t>(); v && *v >= 0 &&
                                        static_cast<uint64_t>(*v) <= std::numeric_limits<T>::max()) {
      *value = static_cast<T>(*v);
      return;
    }
  }
  *error += std::string(section) + "." + std::string(key) + " has a wrong type or range; ";
}

// [rate_limits] (docs/server.md): named limits, and which roles and keys take them.
void ReadRateLimits(const toml::table& t, ServerConfig* c, std::string* e) {
  const toml::table* section = t["rate_limits"].as_table();
  if (section == nullptr) return;
  RateLimitConfig& r = c->rate_limits;
  for (const auto& [part, node] : *section) {
    if (part != "limits" && part != "roles" && part != "keys") {
      *e += "rate_limits." + std::string(part.str()) + " is not a key (limits, roles, keys); ";
    }
  }
  if (const toml::table* limits = (*section)["limits"].as_table()) {
    for (const auto& [name, node] : *limits) {
      const std::string where = "rate_limits.limits." + std::string(name.str());
      const toml::table* limit = node.as_table();
      const auto per_second = limit ? (*limit)["per_second"].value<double>() : std::nullopt;
      const auto burst = limit ? (*limit)["burst"].value<double>() : std::nullopt;
      if (!per_second || !burst || *per_second <= 0 || *burst < 1 || limit->size() != 2) {
        *e += where + " must be { per_second = > 0, burst = >= 1 }; ";
        continue;
      }
      r.limits[std::string(name.str())] = RateLimit{*per_second, *burst};
    }
  }
  auto limit_name = [&](const toml::node& node, const std::string& where, std::string* name) {
    const auto text = node.value_exact<std::string>();
    if (!text || r.limits.count(*text) == 0) {
      *e += where + " must name a limit of rate_limits.limits; ";
      return false;
    }
    *name = *text;
    return true;
  };
  if (const toml::table* roles = (*section)["roles"].as_table()) {
    for (const auto& [role_name, node] : *roles) {
      const std::string where = "rate_limits.roles." + std::string(role_name.str());
      wire::Role role;
      if (!wire::RoleFromName(role_name.str().data(), role_name.str().size(), &role)) {
        *e += where + ": no such role; ";
        continue;
      }
      std::string name;
      if (limit_name(node, where, &name)) r.role_limits[role] = name;
    }
  }
  if (const toml::table* keys = (*section)["keys"].as_table()) {
    for (const auto& [key_text, node] : *keys) {
      const std::string where = "rate_limits.keys." + std::string(key_text.str());
      uint32_t key_id = 0;
      const auto [end, error] = std::from_chars(key_text.str().data(), key_text.str().data() + key_text.str().size(), key_id);
      if (error != std::errc() || end != key_text.str().data() + key_text.str().size() || key_id == 0) {
        *e += where + ": a key id is a positive integer; ";
        continue;
      }
      std::string name;
      if (limit_name(node, where, &name)) r.key_limits[key_id] = name;
    }
  }
}

// http.cors_origins = ["https://screen.example", ...] (docs/access.md).
void ReadCorsOrigins(const toml::table& t, ServerConfig* c, std::string* e) {
  const toml::node_view<const toml::node> node = t["http"]["cors_origins"];
  if (!node) return;
  const toml::array* array = node.as_array();
  bool ok = array != nullptr;
  for (size_t i = 0; ok && i < array->size(); i++) {
    const auto origin = (*array)[i].value_exact<std::string>();
    ok = origin && !origin->empty() && origin->find_first_of(" \r\n,") == std::string::npos;
    if (ok) c->cors_origins.push_back(*origin);
  }
  if (!ok) *e += "http.cors_origins must be an array of origins (\"https://host[:port]\"); ";
}

// [access] anonymous = "operator" | "none" (docs/access.md).
void ReadAnonymous(const toml::table& t, ServerConfig* c, std::string* e) {
  std::string text;
  Read(t, "access", "anonymous", &text, e);
  if (text == "operator" || text == "none") {
    c->anonymous_operator = text == "operator";
  } else if (!text.empty()) {
    *e += "access.anonymous must be \"operator\" or \"none\", not \"" + text + "\"; ";
  }
}

void ReadSnapshotMode(const toml::table& t, ServerConfig* c, std::string* e) {
  std::string text;
  Read(t, "snapshot", "mode", &text, e);
  if (text == "follower" || text == "fork") {
    c->snapshot_follower = text == "follower";
  } else if (!text.empty()) {
    *e += "snapshot.mode must be \"follower\" or \"fork\", not \"" + text + "\"; ";
  }
  uint32_t nice = uint32_t(c->snapshot_follower_nice);
  Read(t, "snapshot", "follower_nice", &nice, e);  // refuses what is negative or not a number
  if (nice > 19) {
    *e += "snapshot.follower_nice must be an integer from 0 to 19; ";
  } else {
    c->snapshot_follower_nice = int(nice);
  }
}

void ReadClock(const toml::table& t, ServerConfig* c, std::string* e) {
  std::string text;
  Read(t, "engine", "clock", &text, e);
  if (!text.empty() && !ParseClockMode(text, &c->clock)) {
    *e += "engine.clock must be \"wall\" or \"client\", not \"" + text + "\"; ";
  }
}

// fulfilment.milestones = [n, ...]: ascending parcel counts whose log time is recorded.
void ReadMilestones(const toml::table& t, engine::FulfilmentConfig* f, std::string* e) {
  const toml::node_view<const toml::node> node = t["fulfilment"]["milestones"];
  if (!node) return;
  const toml::array* array = node.as_array();
  if (array == nullptr || array->size() > wire::kMilestoneCountMax) {
    *e += "fulfilment.milestones must be an array of at most " + std::to_string(wire::kMilestoneCountMax) +
          " parcel counts; ";
    return;
  }
  uint64_t previous = 0;
  for (size_t i = 0; i < array->size(); i++) {
    const std::optional<int64_t> n = (*array)[i].value<int64_t>();
    if (!n || *n <= 0 || uint64_t(*n) <= previous) {
      *e += "fulfilment.milestones must be ascending positive parcel counts; ";
      return;
    }
    f->milestone_parcels[i] = previous = uint64_t(*n);
  }
  f->milestone_count = uint32_t(array->size());
}

// [tls]: present means on, for both listeners unless `binary` or `http` says false.
void ReadTls(const toml::table& t, TlsConfig* tls, std::string* e) {
  const toml::node_view<const toml::node> node = t["tls"];
  if (!node) return;
  if (!node.is_table()) {
    *e += "tls must be a table; ";
    return;
  }
  tls->enabled = true;
  Read(t, "tls", "cert_file", &tls->cert_file, e);
  Read(t, "tls", "key_file", &tls->key_file, e);
  Read(t, "tls", "client_ca_file", &tls->client_ca_file, e);
  Read(t, "tls", "binary", &tls->binary, e);
  Read(t, "tls", "http", &tls->http, e);
  for (const auto& [key, value] : *node.as_table()) {
    const std::string_view name = key.str();
    if (name != "cert_file" && name != "key_file" && name != "client_ca_file" && name != "binary" &&
        name != "http") {
      *e += "tls." + std::string(name) + " is not a key of [tls]; ";
    }
  }
}

// [cluster]: present means cluster mode (docs/cluster.md).
void ReadCluster(const toml::table& t, ServerConfig::Cluster* c, std::string* e) {
  const toml::node_view<const toml::node> node = t["cluster"];
  if (!node) return;
  if (!node.is_table()) {
    *e += "cluster must be a table; ";
    return;
  }
  c->enabled = true;
  Read(t, "cluster", "nats", &c->nats, e);
  Read(t, "cluster", "shard", &c->shard, e);
  Read(t, "cluster", "node", &c->node, e);
  int64_t replicas = c->replicas;
  Read(t, "cluster", "replicas", &replicas, e);
  c->replicas = int(replicas);
  Read(t, "cluster", "lease_ms", &c->lease_ms, e);
  Read(t, "cluster", "ack_timeout_ms", &c->ack_timeout_ms, e);
  Read(t, "cluster", "advertise_binary", &c->advertise_binary, e);
  Read(t, "cluster", "advertise_http", &c->advertise_http, e);
  Read(t, "cluster", "publish_snapshots", &c->publish_snapshots, e);
  Read(t, "cluster", "compress_entries", &c->compress_entries, e);
  Read(t, "cluster", "forward_writes", &c->forward_writes, e);
  Read(t, "cluster", "local_fsync", &c->local_fsync, e);
  for (const auto& [key, value] : *node.as_table()) {
    const std::string_view name = key.str();
    if (name != "nats" && name != "shard" && name != "node" && name != "replicas" &&
        name != "lease_ms" && name != "ack_timeout_ms" && name != "advertise_binary" &&
        name != "advertise_http" && name != "publish_snapshots" && name != "compress_entries" &&
        name != "forward_writes" && name != "local_fsync") {
      *e += "cluster." + std::string(name) + " is not a key of [cluster]; ";
    }
  }
  if (c->nats.empty() || c->shard.empty() || c->node.empty()) {
    *e += "[cluster] needs nats, shard and node; ";
  }
}

void ReadAll(const toml::table& t, ServerConfig* c, std::string* e) {
  Read(t, "server", "data", &c->data_dir, e);
  Read(t, "server", "listen", &c->listen, e);
  Read(t, "server", "http", &c->http, e);
  Read(t, "engine", "merchants_max", &c->engine.merchant_count_max, e);
  Read(t, "engine", "skus_max", &c->engine.sku_count_max, e);
  Read(t, "engine", "drops_max", &c->engine.drop_count_max, e);
  Read(t, "engine", "order_slots", &c->engine.order_slot_count, e);
  Read(t, "engine", "holdings_max", &c->engine.holding_count_max, e);
  Read(t, "engine", "pay_window_us", &c->engine.pay_window_us, e);
  Read(t, "engine", "batch_commands_max", &c->engine.batch_command_count_max, e);
  Read(t, "engine", "api_keys_max", &c->engine.api_key_count_max, e);
  Read(t, "engine", "coupons_max", &c->engine.coupon_count_max, e);
  Read(t, "engine", "coupon_claims_max", &c->engine.coupon_claim_count_max, e);
  Read(t, "engine", "coupon_orders_max", &c->engine.coupon_order_count_max, e);
  Read(t, "engine", "presales_max", &c->engine.presale_count_max, e);
  Read(t, "engine", "deposits_max", &c->engine.deposit_count_max, e);
  Read(t, "engine", "staging_bytes", &c->staging_size_bytes, e);
  Read(t, "snapshot", "journal_bytes", &c->snapshot_journal_bytes, e);
  ReadSnapshotMode(t, c, e);
  ReadAnonymous(t, c, e);
  ReadRateLimits(t, c, e);
  ReadCorsOrigins(t, c, e);
  Read(t, "snapshot", "slice_bytes", &c->snapshot_slice_bytes, e);
  Read(t, "snapshot", "write_bytes_per_second", &c->snapshot_write_bytes_per_second, e);
  Read(t, "journal", "segment_bytes", &c->journal_segment_bytes, e);
  Read(t, "journal", "prepare_segments", &c->journal_prepare_segments, e);
  ReadClock(t, c, e);
  Read(t, "engine", "tick_ms", &c->tick_ms, e);
  engine::LedgerConfig& l = c->engine.ledger;
  Read(t, "ledger", "enabled", &c->engine.ledger_enabled, e);
  Read(t, "ledger", "accounts_max", &l.account_count_max, e);
  Read(t, "ledger", "transfers_max", &l.transfer_count_max, e);
  Read(t, "ledger", "buyers_max", &l.buyer_count_max, e);
  Read(t, "ledger", "merchants_max", &l.merchant_count_max, e);
  Read(t, "ledger", "orders_max", &l.order_count_max, e);
  Read(t, "ledger", "plans_max", &l.plan_count_max, e);
  engine::FulfilmentConfig& f = c->engine.fulfilment;
  Read(t, "fulfilment", "enabled", &c->engine.fulfilment_enabled, e);
  Read(t, "fulfilment", "warehouses_max", &f.warehouse_count_max, e);
  Read(t, "fulfilment", "couriers_max", &f.courier_count_max, e);
  Read(t, "fulfilment", "stock_entries_max", &f.stock_entry_count_max, e);
  Read(t, "fulfilment", "skus_max", &f.sku_count_max, e);
  Read(t, "fulfilment", "parcels_max", &f.parcel_count_max, e);
  Read(t, "fulfilment", "shipments_max", &f.shipment_count_max, e);
  Read(t, "fulfilment", "backlog_max", &f.backlog_count_max, e);
  Read(t, "fulfilment", "delivered_outbox_max", &f.delivered_outbox_count_max, e);
  ReadMilestones(t, &f, e);
  Read(t, "limits", "connections", &c->connection_count_max, e);
  Read(t, "limits", "frame_body_bytes_max", &c->frame_body_size_max, e);
  Read(t, "limits", "query_ids_max", &c->query_count_max, e);
  Read(t, "limits", "connection_requests_in_flight", &c->connection_requests_in_flight_max, e);
  Read(t, "limits", "requests_in_flight", &c->requests_in_flight_max, e);
  Read(t, "limits", "request_bytes_in_flight", &c->request_bytes_in_flight_max, e);
  Read(t, "limits", "request_bytes_retained", &c->request_bytes_retained_max, e);
  Read(t, "limits", "idle_timeout_ms", &c->idle_timeout_ms, e);
  Read(t, "http", "connections", &c->http_connection_count_max, e);
  Read(t, "http", "body_bytes_max", &c->http_body_size_max, e);
  Read(t, "http", "header_bytes_max", &c->http_header_size_max, e);
  Read(t, "read", "lists", &c->read_lists, e);
  Read(t, "read", "wait_ms", &c->read_wait_ms, e);
  Read(t, "read", "scan_max", &c->read_scan_max, e);
  Read(t, "feed", "subscribers", &c->feed_subscriber_count_max, e);
  Read(t, "feed", "topics", &c->feed_topic_count_max, e);
  Read(t, "feed", "tick_ms", &c->feed_tick_ms, e);
  Read(t, "feed", "write_timeout_ms", &c->feed_write_timeout_ms, e);
  Read(t, "feed", "send_buffer_bytes", &c->feed_send_buffer_bytes, e);
  ReadTls(t, &c->tls, e);
  ReadCluster(t, &c->cluster, e);
}

}  // namespace

const std::vector<std::string> kTomlShapeKeys = {"engine.clock",
                                                 "engine.merchants_max",
                                                 "engine.skus_max",
                                                 "engine.drops_max",
                                                 "engine.order_slots",
                                                 "engine.holdings_max",
                                                 "engine.pay_window_us",
                                                 "engine.batch_commands_max",
                                                 "engine.api_keys_max",
                                                 "engine.coupons_max",
                                                 "engine.coupon_claims_max",
                                                 "engine.coupon_orders_max",
                                                 "engine.presales_max",
                                                 "engine.deposits_max",
                                                 "ledger.enabled",
                                                 "ledger.accounts_max",
                                                 "ledger.transfers_max",
                                                 "ledger.buyers_max",
                                                 "ledger.merchants_max",
                                                 "ledger.orders_max",
                                                 "ledger.plans_max",
                                                 "fulfilment.enabled",
                                                 "fulfilment.warehouses_max",
                                                 "fulfilment.couriers_max",
                                                 "fulfilment.stock_entries_max",
                                                 "fulfilment.skus_max",
                                                 "fulfilment.parcels_max",
                                                 "fulfilment.shipments_max",
                                                 "fulfilment.backlog_max",
                                                 "fulfilment.delivered_outbox_max",
                                                 "fulfilment.milestones"};

Status LoadServerConfig(const std::string& path, ServerConfig* config) {
  toml::table table;
  try {  // toml++ reports parse errors as exceptions; they stop here
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    return Status::InvalidArgument(path + ": " + std::string(error.description()));
  }
  std::string errors;
  ReadAll(table, config, &errors);
  if (!errors.empty()) return Status::InvalidArgument(path + ": " + errors);
  for (const std::string& key : kTomlShapeKeys) {
    if (table.at_path(key)) config->shape_given.push_back({key, "in " + path});
  }
  return Status::Ok();
}

namespace {

// Whether a listener's host is a loopback address (a name counts only if it is "localhost").
bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(host, error);
  return !error && address.is_loopback();
}

}  // namespace

Status ValidateServerConfig(const ServerConfig& c) {
  if (c.data_dir.empty()) return Status::InvalidArgument("no data directory (--data)");
  if (c.anonymous_operator) {
    for (const std::string* address : {&c.listen, &c.http}) {
      if (address->empty()) continue;
      std::string host;
      uint16_t port = 0;
      ELEVEN_RETURN_IF_ERROR(ParseHostPort(*address, &host, &port));
      if (!IsLoopbackHost(host)) {
        return Status::InvalidArgument("access.anonymous = \"operator\" is for local trials: every listener "
                                       "must be on a loopback address, and " + *address + " is not");
      }
    }
  }
  if (c.frame_body_size_max < wire::kCommandSize) {
    return Status::InvalidArgument("frame_body_bytes_max below one command");
  }
  if (c.requests_in_flight_max == 0 || c.connection_requests_in_flight_max == 0) {
    return Status::InvalidArgument("requests_in_flight limits must be >= 1");
  }
  if (c.request_bytes_in_flight_max < c.frame_body_size_max + 48) {
    return Status::InvalidArgument("request_bytes_in_flight below one full frame");
  }
  if (c.journal_segment_bytes < (uint64_t{64} << 10) || c.journal_segment_bytes > (uint64_t{4} << 30)) {
    return Status::InvalidArgument("journal.segment_bytes must be 64 KiB..4 GiB");
  }
  if (c.engine.api_key_count_max >= wire::kIssuerArchiveChecked) {
    return Status::InvalidArgument("engine.api_keys_max must be below 2147483648 (a key id takes 31 bits of a "
                                   "command's issuer word)");
  }
  if (c.tick_ms == 0 || c.tick_ms > 60'000) {
    return Status::InvalidArgument("engine.tick_ms must be 1..60000");
  }
  if (c.feed_tick_ms == 0 || c.feed_tick_ms > 100) {
    return Status::InvalidArgument("feed.tick_ms must be 1..100");
  }
  if (c.feed_subscriber_count_max >= c.http_connection_count_max) {
    return Status::InvalidArgument("feed.subscribers (" + std::to_string(c.feed_subscriber_count_max) +
                                   ") must be below http.connections (" +
                                   std::to_string(c.http_connection_count_max) +
                                   "): viewers would hold every connection");
  }
  if (c.feed_write_timeout_ms == 0) return Status::InvalidArgument("feed.write_timeout_ms must be >= 1");
  if (c.read_wait_ms > 60000) return Status::InvalidArgument("read.wait_ms must be 0..60000");
  if (c.read_scan_max < 100 || c.read_scan_max > 1000000) {
    return Status::InvalidArgument("read.scan_max must be 100..1000000 (a page holds up to 100 items)");
  }
  if (c.feed_send_buffer_bytes < 4096) return Status::InvalidArgument("feed.send_buffer_bytes must be >= 4096");
  if (c.listen.empty() && c.http.empty()) return Status::InvalidArgument("nothing to listen on");
  if (c.tls.enabled) {
    if (c.tls.cert_file.empty())
      return Status::InvalidArgument("[tls] needs cert_file (a PEM certificate)");
    if (c.tls.key_file.empty())
      return Status::InvalidArgument("[tls] needs key_file (a PEM private key)");
    if (!c.tls.binary && !c.tls.http) {
      return Status::InvalidArgument(
          "[tls] with binary = false and http = false: remove the table instead");
    }
  }
  return Status::Ok();
}

std::string EngineConfigToml(const engine::EngineConfig& e, protocol::ClockMode clock) {
  std::string out;
  auto line = [&out](std::string_view key, uint64_t value) {
    out += std::string(key) + " = " + std::to_string(value) + "\n";
  };
  out += "[engine]\n";
  out += std::string("clock = \"") + (clock == protocol::ClockMode::kClient ? "client" : "wall") + "\"\n";
  line("merchants_max", e.merchant_count_max);
  line("skus_max", e.sku_count_max);
  line("drops_max", e.drop_count_max);
  line("order_slots", e.order_slot_count);
  line("holdings_max", e.holding_count_max);
  line("pay_window_us", e.pay_window_us);
  line("batch_commands_max", e.batch_command_count_max);
  line("api_keys_max", e.api_key_count_max);
  line("coupons_max", e.coupon_count_max);
  line("coupon_claims_max", e.coupon_claim_count_max);
  line("coupon_orders_max", e.coupon_order_count_max);
  line("presales_max", e.presale_count_max);
  line("deposits_max", e.deposit_count_max);
  out += std::string("\n[ledger]\nenabled = ") + (e.ledger_enabled ? "true" : "false") + "\n";
  line("accounts_max", e.ledger.account_count_max);
  line("transfers_max", e.ledger.transfer_count_max);
  line("buyers_max", e.ledger.buyer_count_max);
  line("merchants_max", e.ledger.merchant_count_max);
  line("orders_max", e.ledger.order_count_max);
  line("plans_max", e.ledger.plan_count_max);
  const engine::FulfilmentConfig& f = e.fulfilment;
  out += std::string("\n[fulfilment]\nenabled = ") + (e.fulfilment_enabled ? "true" : "false") + "\n";
  line("warehouses_max", f.warehouse_count_max);
  line("couriers_max", f.courier_count_max);
  line("stock_entries_max", f.stock_entry_count_max);
  line("skus_max", f.sku_count_max);
  line("parcels_max", f.parcel_count_max);
  line("shipments_max", f.shipment_count_max);
  line("backlog_max", f.backlog_count_max);
  line("delivered_outbox_max", f.delivered_outbox_count_max);
  out += "milestones = [";
  for (uint32_t i = 0; i < f.milestone_count; i++) {
    out += (i ? ", " : "") + std::to_string(f.milestone_parcels[i]);
  }
  out += "]\n";
  return out;
}

replica::DataShape ShapeOfConfig(const ServerConfig& config) {
  return replica::DataShape{config.engine, config.clock == protocol::ClockMode::kClient
                                               ? replica::LogClock::kClient
                                               : replica::LogClock::kWall};
}

void SetShape(const replica::DataShape& shape, ServerConfig* config) {
  config->engine = shape.engine;
  config->clock = shape.clock == replica::LogClock::kClient ? protocol::ClockMode::kClient
                                                            : protocol::ClockMode::kWall;
}

bool ParseClockMode(std::string_view text, protocol::ClockMode* mode) {
  if (text == "wall") {
    *mode = protocol::ClockMode::kWall;
  } else if (text == "client") {
    *mode = protocol::ClockMode::kClient;
  } else {
    return false;
  }
  return true;
}

Status ParseHostPort(const std::string& address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("address must be host:port, not '" + address + "'");
  }
  *host = address.substr(0, colon);
  unsigned value = 0;
  const char* begin = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || value > 65535) {
    return Status::InvalidArgument("bad port in '" + address + "'");
  }
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

}  // namespace eleven::server
