// w1_postgres: W1 against PostgreSQL, one PL/pgSQL function call per order, each its own
// transaction, sent in libpq pipeline mode: C connections each with its own thread, P calls
// in flight per connection. Expects a fresh server (it creates the schema in the database it
// connects to) started with the synchronous_commit of the durability level it is told.
//
// Tables: sku(id, price, stock); orders(key primary key, status, id, buyer, total, lines);
// hot(sku, buyer) primary key: one row per unit of a hot SKU a buyer holds.
#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/assert.h"
#include "driver.h"

namespace eleven::compare {
namespace {

constexpr const char* kSchema = R"sql(
create table sku (id bigint not null, price bigint not null, stock int not null)
  with (fillfactor = 70);  -- room for in-page (HOT) updates of stock
create table orders (key bigint primary key, status smallint not null, id bigint not null,
                     buyer bigint not null, total bigint not null, lines bigint[]);
create table hot (sku bigint not null, buyer bigint not null, primary key (sku, buyer));
create sequence order_id;
)sql";

// The W1 rules in one function. Keys are W1's unsigned 64-bit keys cast to bigint.
// Returns (status, id, total): status 0 accepted, 1 limit, 2 sold out. It runs four
// statements for a usual order (look up the key, lock and read the SKUs, update them,
// insert the order): every statement costs an executor start, so the reads of stock and
// price come with the locks instead of one select per line.
constexpr const char* kPlaceOrderFunction = R"sql(
create function place_order(p_key bigint, p_buyer bigint, p_skus bigint[], p_qtys int[],
                            out o_status int, out o_id bigint, out o_total bigint)
language plpgsql as $$
declare
  n int := array_length(p_skus, 1);
  v_stock int[] := '{}';
  v_price bigint[] := '{}';
  v_lines bigint[] := '{}';
  v_hot boolean := false;
  r record;
begin
  select status, id, total into o_status, o_id, o_total from orders where key = p_key;
  if found then
    return;  -- a retry gets the first result, rejections included
  end if;
  -- Lock the order's SKU rows in id order, so orders over the same SKUs in another order
  -- wait for each other instead of deadlocking; the hot-holding check below runs after the
  -- lock, so it sees every earlier order of this SKU.
  for r in select id, stock, price from sku where id = any(p_skus) order by id for update loop
    for i in 1 .. n loop
      if p_skus[i] = r.id then
        v_stock[i] := r.stock;
        v_price[i] := r.price;
      end if;
    end loop;
  end loop;
  o_status := 0;
  o_id := 0;
  o_total := 0;
  for i in 1 .. n loop
    if p_skus[i] < 100 then
      if p_qtys[i] > 1 or exists (select 1 from hot where sku = p_skus[i] and buyer = p_buyer) then
        o_status := 1;
        exit;
      end if;
      v_hot := true;
    end if;
    if v_stock[i] is null then
      raise exception 'unknown sku %', p_skus[i];
    end if;
    if v_stock[i] < p_qtys[i] then
      o_status := 2;
      exit;
    end if;
    o_total := o_total + v_price[i] * p_qtys[i];
    v_lines := v_lines || p_skus[i] || p_qtys[i]::bigint;
  end loop;
  if o_status <> 0 then
    o_total := 0;
    insert into orders (key, status, id, buyer, total) values (p_key, o_status, 0, p_buyer, 0);
    return;
  end if;
  update sku set stock = stock - l.q from unnest(p_skus, p_qtys) as l(s, q) where sku.id = l.s;
  if v_hot then
    insert into hot (sku, buyer) select s, p_buyer from unnest(p_skus) as s where s < 100;
  end if;
  insert into orders (key, status, id, buyer, total, lines)
    values (p_key, 0, nextval('order_id'), p_buyer, o_total, v_lines)
    returning id into o_id;
end
$$;
)sql";

constexpr const char* kPlaceStatement = "place";
constexpr size_t kCopyChunkSize = 1 << 20;

struct ConnectionDeleter {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnectionPtr = std::unique_ptr<PGconn, ConnectionDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

Status Connect(const Options& options, ConnectionPtr* connection) {
  const std::string info = "host=" + options.host + " port=" + std::to_string(options.port) +
                           " user=postgres dbname=postgres";
  connection->reset(PQconnectdb(info.c_str()));
  if (*connection == nullptr || PQstatus(connection->get()) != CONNECTION_OK) {
    return Status::Unavailable(std::string("postgres: ") +
                               (*connection ? PQerrorMessage(connection->get()) : "out of memory"));
  }
  return Status::Ok();
}

Status Exec(PGconn* connection, const char* sql, ExecStatusType expected, ResultPtr* result) {
  result->reset(PQexec(connection, sql));
  if (PQresultStatus(result->get()) != expected) {
    return Status::FailedPrecondition(std::string("postgres: ") + PQerrorMessage(connection) +
                                      " in: " + std::string(sql).substr(0, 80));
  }
  return Status::Ok();
}

Status Exec(PGconn* connection, const char* sql) {
  ResultPtr result;
  return Exec(connection, sql, PGRES_COMMAND_OK, &result);
}

Status ShowSetting(PGconn* connection, const char* sql, std::string* value) {
  ResultPtr result;
  ELEVEN_RETURN_IF_ERROR(Exec(connection, sql, PGRES_TUPLES_OK, &result));
  *value = PQgetvalue(result.get(), 0, 0);
  return Status::Ok();
}

// The server must commit as the level we report says: synchronous_commit on (and fsync on)
// is durable, off is relaxed.
Status CheckServerDurability(PGconn* connection, const std::string& durability) {
  std::string synchronous_commit;
  std::string fsync;
  ELEVEN_RETURN_IF_ERROR(ShowSetting(connection, "show synchronous_commit", &synchronous_commit));
  ELEVEN_RETURN_IF_ERROR(ShowSetting(connection, "show fsync", &fsync));
  const std::string wanted = durability == "durable" ? "on" : "off";
  if (synchronous_commit != wanted || fsync != "on") {
    return Status::FailedPrecondition("postgres runs synchronous_commit=" + synchronous_commit +
                                      " fsync=" + fsync + ", not what " + durability + " needs");
  }
  return Status::Ok();
}

Status CopyCatalog(PGconn* connection) {
  ResultPtr result;
  ELEVEN_RETURN_IF_ERROR(
      Exec(connection, "copy sku (id, price, stock) from stdin", PGRES_COPY_IN, &result));
  std::string chunk;
  chunk.reserve(kCopyChunkSize + 64);
  for (uint64_t sku = 0; sku < w1::kSkuCount; sku++) {
    chunk += std::to_string(sku) + '\t' + std::to_string(w1::Price(sku)) + '\t' +
             std::to_string(w1::InitialStock(sku)) + '\n';
    if (chunk.size() >= kCopyChunkSize || sku + 1 == w1::kSkuCount) {
      if (PQputCopyData(connection, chunk.data(), static_cast<int>(chunk.size())) != 1) {
        return Status::IOError(std::string("postgres copy: ") + PQerrorMessage(connection));
      }
      chunk.clear();
    }
  }
  if (PQputCopyEnd(connection, nullptr) != 1) {
    return Status::IOError(std::string("postgres copy end: ") + PQerrorMessage(connection));
  }
  result.reset(PQgetResult(connection));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Status::IOError(std::string("postgres copy: ") + PQerrorMessage(connection));
  }
  while (PGresult* rest = PQgetResult(connection)) PQclear(rest);
  return Status::Ok();
}

Status LoadCatalog(PGconn* connection) {
  ELEVEN_RETURN_IF_ERROR(Exec(connection, kSchema));
  ELEVEN_RETURN_IF_ERROR(Exec(connection, kPlaceOrderFunction));
  ELEVEN_RETURN_IF_ERROR(CopyCatalog(connection));
  // The key is added after the copy (one sorted build instead of a million inserts), and
  // the table vacuumed and checkpointed so the timed phase starts from a settled table.
  // orders and hot are left never analyzed on purpose: analyzed while empty, the planner
  // would take them for empty and plan sequential scans that grow with every order.
  ELEVEN_RETURN_IF_ERROR(Exec(connection, "alter table sku add primary key (id)"));
  ELEVEN_RETURN_IF_ERROR(Exec(connection, "vacuum analyze sku"));
  return Exec(connection, "checkpoint");
}

// Text parameters of one place_order call, in fixed buffers.
struct CallParameters {
  char key[24];
  char buyer[24];
  char skus[3 + w1::kLineCountMax * 21];
  char quantities[3 + w1::kLineCountMax * 11];
  const char* values[4] = {key, buyer, skus, quantities};

  void Build(const w1::Order& order) {
    std::snprintf(key, sizeof(key), "%lld", static_cast<long long>(order.key));
    std::snprintf(buyer, sizeof(buyer), "%llu", static_cast<unsigned long long>(order.buyer));
    size_t sku_size = 0;
    size_t quantity_size = 0;
    for (int j = 0; j < order.line_count; j++) {
      const char* separator = j == 0 ? "{" : ",";
      sku_size += std::snprintf(skus + sku_size, sizeof(skus) - sku_size, "%s%llu", separator,
                                static_cast<unsigned long long>(order.sku[j]));
      quantity_size += std::snprintf(quantities + quantity_size, sizeof(quantities) - quantity_size,
                                     "%s%u", separator, order.quantity[j]);
    }
    std::snprintf(skus + sku_size, sizeof(skus) - sku_size, "}");
    std::snprintf(quantities + quantity_size, sizeof(quantities) - quantity_size, "}");
  }
};

// One connection in pipeline mode; not thread-safe (one thread uses it at a time).
class PostgresSession final : public Session {
 public:
  explicit PostgresSession(ConnectionPtr connection) : connection_(std::move(connection)) {}

  Status Prepare() {
    PGconn* connection = connection_.get();
    // The function's statements are planned once per connection: with the default plan
    // cache mode PostgreSQL keeps re-planning "id = any($1)" (it prices the generic plan
    // above the custom ones), which cost ~40% of the per-order CPU in a single-session test.
    ELEVEN_RETURN_IF_ERROR(Exec(connection, "set plan_cache_mode = force_generic_plan"));
    ResultPtr result(PQprepare(connection, kPlaceStatement,
                               "select o_status, o_id, o_total from place_order($1, $2, $3, $4)", 0,
                               nullptr));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return Status::FailedPrecondition(std::string("postgres prepare: ") +
                                        PQerrorMessage(connection));
    }
    if (PQenterPipelineMode(connection) != 1) {
      return Status::FailedPrecondition(std::string("postgres pipeline: ") +
                                        PQerrorMessage(connection));
    }
    return Status::Ok();
  }

  // Each call is followed by a sync, so each order is its own transaction: an order is
  // acknowledged when its own commit is, and one order's error cannot abort its neighbours.
  Status PlaceBatch(std::span<const w1::Order> orders, std::span<Reply> replies) override {
    ELEVEN_ASSERT(orders.size() == replies.size());
    PGconn* connection = connection_.get();
    for (const w1::Order& order : orders) {
      parameters_.Build(order);
      if (PQsendQueryPrepared(connection, kPlaceStatement, 4, parameters_.values, nullptr, nullptr,
                              0) != 1 ||
          PQpipelineSync(connection) != 1) {
        return Status::IOError(std::string("postgres send: ") + PQerrorMessage(connection));
      }
    }
    for (Reply& reply : replies) ELEVEN_RETURN_IF_ERROR(ReadReply(&reply));
    return Status::Ok();
  }

 private:
  // One call's results: its row, the end of its results, then its sync.
  Status ReadReply(Reply* reply) {
    PGconn* connection = connection_.get();
    ResultPtr result(PQgetResult(connection));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
      return Status::FailedPrecondition(std::string("postgres place_order: ") +
                                        PQresultErrorMessage(result.get()));
    }
    const int64_t status = std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
    if (status < 0 || status > 2) return Status::Corruption("postgres: bad order status");
    reply->status = static_cast<OrderStatus>(status);
    reply->id = std::strtoll(PQgetvalue(result.get(), 0, 1), nullptr, 10);
    reply->total = std::strtoll(PQgetvalue(result.get(), 0, 2), nullptr, 10);
    result.reset(PQgetResult(connection));
    if (result != nullptr) return Status::Corruption("postgres: more than one result per call");
    result.reset(PQgetResult(connection));
    if (PQresultStatus(result.get()) != PGRES_PIPELINE_SYNC) {
      return Status::Corruption("postgres: expected the end of a pipeline sync");
    }
    return Status::Ok();
  }

  ConnectionPtr connection_;
  CallParameters parameters_;
};

Status ParseLines(const char* text, StoredOrder* order) {
  // "{sku,qty[,sku,qty...]}"
  if (text[0] != '{') return Status::Corruption(std::string("postgres: bad lines ") + text);
  const char* p = text + 1;
  while (*p != '}' && *p != '\0') {
    if (order->line_count == w1::kLineCountMax)
      return Status::Corruption("postgres: too many lines");
    char* end = nullptr;
    order->sku[order->line_count] = std::strtoull(p, &end, 10);
    if (*end != ',') return Status::Corruption(std::string("postgres: bad lines ") + text);
    order->quantity[order->line_count] = static_cast<uint32_t>(std::strtoul(end + 1, &end, 10));
    order->line_count++;
    if (*end == ',') end++;
    p = end;
  }
  return Status::Ok();
}

Status ReadOrders(PGconn* connection, std::vector<StoredOrder>* orders) {
  ResultPtr result;
  ELEVEN_RETURN_IF_ERROR(Exec(connection, "select key, status, id, buyer, total, lines from orders",
                              PGRES_TUPLES_OK, &result));
  const int row_count = PQntuples(result.get());
  orders->assign(row_count, StoredOrder{});
  for (int row = 0; row < row_count; row++) {
    StoredOrder& order = (*orders)[row];
    const auto value = [&](int column) { return PQgetvalue(result.get(), row, column); };
    order.key = static_cast<uint64_t>(std::strtoll(value(0), nullptr, 10));
    const int64_t status = std::strtoll(value(1), nullptr, 10);
    if (status < 0 || status > 2) return Status::Corruption("postgres: bad stored status");
    order.status = static_cast<OrderStatus>(status);
    order.id = std::strtoll(value(2), nullptr, 10);
    order.buyer = std::strtoull(value(3), nullptr, 10);
    order.total = std::strtoll(value(4), nullptr, 10);
    if (!PQgetisnull(result.get(), row, 5)) ELEVEN_RETURN_IF_ERROR(ParseLines(value(5), &order));
  }
  return Status::Ok();
}

Status ReadState(PGconn* connection, EndState* state) {
  ResultPtr result;
  ELEVEN_RETURN_IF_ERROR(Exec(connection, "select id, stock from sku", PGRES_TUPLES_OK, &result));
  if (PQntuples(result.get()) != static_cast<int>(w1::kSkuCount)) {
    return Status::Corruption("postgres: the sku table lost or gained rows");
  }
  state->stock.assign(w1::kSkuCount, 0);
  for (int row = 0; row < PQntuples(result.get()); row++) {
    const uint64_t sku = std::strtoull(PQgetvalue(result.get(), row, 0), nullptr, 10);
    if (sku >= w1::kSkuCount) return Status::Corruption("postgres: unknown SKU");
    state->stock[sku] = std::strtoll(PQgetvalue(result.get(), row, 1), nullptr, 10);
  }
  ELEVEN_RETURN_IF_ERROR(Exec(connection,
                              "select sku, count(*), count(distinct buyer) from hot group by sku",
                              PGRES_TUPLES_OK, &result));
  state->hot_holding_count.assign(w1::kHotSkuCount, 0);
  state->hot_holder_count.assign(w1::kHotSkuCount, 0);
  for (int row = 0; row < PQntuples(result.get()); row++) {
    const uint64_t sku = std::strtoull(PQgetvalue(result.get(), row, 0), nullptr, 10);
    if (sku >= w1::kHotSkuCount) return Status::Corruption("postgres: a holding of a normal SKU");
    state->hot_holding_count[sku] = std::strtoll(PQgetvalue(result.get(), row, 1), nullptr, 10);
    state->hot_holder_count[sku] = std::strtoll(PQgetvalue(result.get(), row, 2), nullptr, 10);
  }
  return ReadOrders(connection, &state->orders);
}

int Main(int argc, char** argv) {
  Options options;
  Status status = ParseOptions(argc, argv, &options);
  if (!status.ok()) {
    std::fprintf(stderr,
                 "w1_postgres: %s\nusage: w1_postgres --port N --durability durable|relaxed "
                 "[--orders N] [--connections C] [--pipeline P] [--seed S] [--host H]\n",
                 status.ToString().c_str());
    return 2;
  }
  ConnectionPtr control;
  status = Connect(options, &control);
  if (status.ok()) status = CheckServerDurability(control.get(), options.durability);
  if (status.ok()) {
    std::fprintf(stderr, "postgres: loading the catalog (1,000,000 SKUs, not timed)\n");
    const auto load_start = std::chrono::steady_clock::now();
    status = LoadCatalog(control.get());
    std::fprintf(
        stderr, "postgres: catalog loaded in %.1f s\n",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());
  }
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; status.ok() && i < options.connection_count; i++) {
    ConnectionPtr connection;
    status = Connect(options, &connection);
    if (!status.ok()) break;
    auto session = std::make_unique<PostgresSession>(std::move(connection));
    status = session->Prepare();
    sessions.push_back(std::move(session));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "w1_postgres: %s\n", status.ToString().c_str());
    return 1;
  }
  return RunAndReport("postgres", options, sessions,
                      [&](EndState* state) { return ReadState(control.get(), state); });
}

}  // namespace
}  // namespace eleven::compare

int main(int argc, char** argv) { return eleven::compare::Main(argc, argv); }
