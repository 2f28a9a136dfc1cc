// w1_redis: W1 against Redis, one Lua script per order (EVALSHA), C connections each with
// its own thread and hiredis context, pipeline depth P. Expects a fresh, empty redis-server
// started with the AOF settings of the durability level it is told (it checks them).
//
// Keys: m:<merchant> hash {s<k>: stock, p<k>: price} for the merchant's 10 SKUs
// (sku = merchant * 10 + k), since an order belongs to one merchant: one HMGET reads all of
// an order's lines, and loading or reading back the catalog is 100,000 commands, not
// 1,000,000; h:<sku> set of buyers holding a hot SKU; o:<key> hash {st, id, buyer, tot,
// lines} (a rejection keeps st and buyer, so a retry gets the same answer); next_order_id.
#include <hiredis/hiredis.h>

#include <charconv>
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

// The W1 rules, atomic because Redis runs a script without interleaving other commands.
// KEYS: o:<key>, next_order_id, m:<merchant>, then h:<sku> for each line (read only for
// hot SKUs). ARGV: buyer, then sku and quantity for each line. Returns {status, id, total}.
constexpr const char* kPlaceOrderScript = R"lua(
local prior = redis.call('HMGET', KEYS[1], 'st', 'id', 'tot')
if prior[1] then
  return {tonumber(prior[1]), tonumber(prior[2]), tonumber(prior[3])}
end
local n = #KEYS - 3
local buyer = ARGV[1]
local fields = {}
for j = 1, n do
  local slot = tonumber(ARGV[2 * j]) % 10
  fields[2 * j - 1] = 's' .. slot
  fields[2 * j] = 'p' .. slot
end
local row = redis.call('HMGET', KEYS[3], unpack(fields))
local status = 0
for j = 1, n do
  local sku = tonumber(ARGV[2 * j])
  local quantity = tonumber(ARGV[2 * j + 1])
  if sku < 100 and (quantity > 1 or redis.call('SISMEMBER', KEYS[3 + j], buyer) == 1) then
    status = 1
    break
  end
  if tonumber(row[2 * j - 1]) < quantity then
    status = 2
    break
  end
end
if status ~= 0 then
  redis.call('HSET', KEYS[1], 'st', status, 'id', 0, 'tot', 0, 'buyer', buyer)
  return {status, 0, 0}
end
local total = 0
local lines = {}
for j = 1, n do
  local quantity = tonumber(ARGV[2 * j + 1])
  redis.call('HINCRBY', KEYS[3], fields[2 * j - 1], -quantity)
  if tonumber(ARGV[2 * j]) < 100 then
    redis.call('SADD', KEYS[3 + j], buyer)
  end
  total = total + tonumber(row[2 * j]) * quantity
  lines[j] = ARGV[2 * j] .. ':' .. ARGV[2 * j + 1]
end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'st', 0, 'id', id, 'tot', total, 'buyer', buyer,
           'lines', table.concat(lines, ','))
return {0, id, total}
)lua";

constexpr int kLoadBatchSize = 10000;  // commands per pipelined round trip when loading/reading
constexpr int kScanCount = 10000;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

Status Connect(const Options& options, ContextPtr* context) {
  context->reset(redisConnect(options.host.c_str(), options.port));
  if (*context == nullptr) return Status::Unavailable("redis: out of memory connecting");
  if ((*context)->err != 0) return Status::Unavailable(std::string("redis: ") + (*context)->errstr);
  return Status::Ok();
}

// Reads the next pipelined reply; a transport error or an error reply is a failed Status.
Status GetReply(redisContext* context, ReplyPtr* reply) {
  void* raw = nullptr;
  if (redisGetReply(context, &raw) != REDIS_OK) {
    return Status::IOError(std::string("redis: ") + context->errstr);
  }
  reply->reset(static_cast<redisReply*>(raw));
  if ((*reply)->type == REDIS_REPLY_ERROR) {
    return Status::FailedPrecondition(std::string("redis error: ") + (*reply)->str);
  }
  return Status::Ok();
}

Status Call(redisContext* context, const std::vector<std::string>& words, ReplyPtr* reply) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& word : words) {
    argv.push_back(word.data());
    lengths.push_back(word.size());
  }
  if (redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
      REDIS_OK) {
    return Status::IOError(std::string("redis: ") + context->errstr);
  }
  return GetReply(context, reply);
}

bool ParseInt(const redisReply* reply, int64_t* value) {
  if (reply->type == REDIS_REPLY_INTEGER) {
    *value = reply->integer;
    return true;
  }
  if (reply->type != REDIS_REPLY_STRING) return false;
  char* end = nullptr;
  *value = std::strtoll(reply->str, &end, 10);
  return end != reply->str && *end == '\0';
}

// The server must run the AOF policy of the level we report: "always" is durable.
Status CheckServerDurability(redisContext* context, const std::string& durability) {
  ReplyPtr reply;
  ELEVEN_RETURN_IF_ERROR(Call(context, {"CONFIG", "GET", "append*"}, &reply));
  std::string appendonly;
  std::string appendfsync;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    const std::string name = reply->element[i]->str;
    if (name == "appendonly") appendonly = reply->element[i + 1]->str;
    if (name == "appendfsync") appendfsync = reply->element[i + 1]->str;
  }
  const std::string wanted = durability == "durable" ? "always" : "everysec";
  if (appendonly != "yes" || appendfsync != wanted) {
    return Status::FailedPrecondition("redis runs appendonly=" + appendonly + " appendfsync=" +
                                      appendfsync + ", not what " + durability + " needs");
  }
  ELEVEN_RETURN_IF_ERROR(Call(context, {"DBSIZE"}, &reply));
  if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 0) {
    return Status::FailedPrecondition("redis is not empty: start a fresh server");
  }
  return Status::Ok();
}

// Sends `count` commands built by `append(i)` in pipelined rounds and hands every reply to
// `take(i, reply)`.
template <typename Append, typename Take>
Status Pipelined(redisContext* context, uint64_t count, Append append, Take take) {
  for (uint64_t begin = 0; begin < count; begin += kLoadBatchSize) {
    const uint64_t end = std::min<uint64_t>(count, begin + kLoadBatchSize);
    for (uint64_t i = begin; i < end; i++) {
      if (append(i) != REDIS_OK) return Status::IOError(std::string("redis: ") + context->errstr);
    }
    for (uint64_t i = begin; i < end; i++) {
      ReplyPtr reply;
      ELEVEN_RETURN_IF_ERROR(GetReply(context, &reply));
      ELEVEN_RETURN_IF_ERROR(take(i, reply.get()));
    }
  }
  return Status::Ok();
}

Status LoadCatalogCommands(redisContext* context) {
  return Pipelined(
      context, w1::kMerchantCount,
      [&](uint64_t merchant) {
        std::string command = "HSET m:" + std::to_string(merchant);
        for (uint64_t k = 0; k < w1::kSkusPerMerchant; k++) {
          const uint64_t sku = merchant * w1::kSkusPerMerchant + k;
          command += " s" + std::to_string(k) + ' ' + std::to_string(w1::InitialStock(sku)) + " p" +
                     std::to_string(k) + ' ' + std::to_string(w1::Price(sku));
        }
        // Only digits, letters and spaces: hiredis may split this format string on spaces.
        return redisAppendCommand(context, command.c_str());
      },
      [](uint64_t, redisReply*) { return Status::Ok(); });
}

// The load is not timed and not part of what the durability level claims, so it runs with
// appendfsync no: with "always", Redis would fsync after every 16 KB it reads off the
// socket, a thousand fsyncs for nothing. The policy is put back (and synced) before the run.
Status LoadCatalog(redisContext* context, const std::string& durability) {
  ReplyPtr reply;
  ELEVEN_RETURN_IF_ERROR(Call(context, {"CONFIG", "SET", "appendfsync", "no"}, &reply));
  ELEVEN_RETURN_IF_ERROR(LoadCatalogCommands(context));
  const std::string policy = durability == "durable" ? "always" : "everysec";
  ELEVEN_RETURN_IF_ERROR(Call(context, {"CONFIG", "SET", "appendfsync", policy}, &reply));
  // A write under the restored policy: with "always" its reply means the AOF, catalog
  // included, is on disk.
  ELEVEN_RETURN_IF_ERROR(Call(context, {"SET", "next_order_id", "0"}, &reply));
  return Status::Ok();
}

// Builds one EVALSHA command's arguments in fixed buffers (no allocation per order).
class EvalArguments {
 public:
  static constexpr int kWordCountMax = 6 + w1::kLineCountMax + 1 + 2 * w1::kLineCountMax;

  void Build(const std::string& sha, const w1::Order& order) {
    count_ = 0;
    Add("EVALSHA");
    AddView(sha);
    AddNumber("", 3 + order.line_count);
    AddNumber("o:", order.key);
    Add("next_order_id");
    AddNumber("m:", order.merchant);
    for (int j = 0; j < order.line_count; j++) AddNumber("h:", order.sku[j]);
    AddNumber("", order.buyer);
    for (int j = 0; j < order.line_count; j++) {
      AddNumber("", order.sku[j]);
      AddNumber("", order.quantity[j]);
    }
    ELEVEN_ASSERT(count_ <= kWordCountMax);
  }
  int count() const { return count_; }
  const char** argv() { return argv_; }
  const size_t* lengths() const { return lengths_; }

 private:
  void Add(const char* word) {
    argv_[count_] = word;
    lengths_[count_++] = std::strlen(word);
  }
  void AddView(const std::string& word) {
    argv_[count_] = word.data();
    lengths_[count_++] = word.size();
  }
  void AddNumber(const char* prefix, uint64_t value) {
    char* begin = storage_[count_];
    const size_t prefix_size = std::strlen(prefix);
    std::memcpy(begin, prefix, prefix_size);
    char* end = std::to_chars(begin + prefix_size, begin + sizeof(storage_[0]), value).ptr;
    argv_[count_] = begin;
    lengths_[count_++] = static_cast<size_t>(end - begin);
  }

  int count_ = 0;
  char storage_[kWordCountMax][32];  // "o:" + 20 digits fits
  const char* argv_[kWordCountMax];
  size_t lengths_[kWordCountMax];
};

Status ParseOrderReply(const redisReply* reply, Reply* out) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
    return Status::Corruption("redis: the order script returned something other than 3 values");
  }
  int64_t values[3];
  for (int i = 0; i < 3; i++) {
    if (!ParseInt(reply->element[i], &values[i])) return Status::Corruption("redis: bad reply");
  }
  if (values[0] < 0 || values[0] > 2) return Status::Corruption("redis: bad order status");
  out->status = static_cast<OrderStatus>(values[0]);
  out->id = values[1];
  out->total = values[2];
  return Status::Ok();
}

// One connection; not thread-safe (one thread uses it at a time).
class RedisSession final : public Session {
 public:
  RedisSession(ContextPtr context, std::string sha)
      : context_(std::move(context)), sha_(std::move(sha)) {}

  Status PlaceBatch(std::span<const w1::Order> orders, std::span<Reply> replies) override {
    ELEVEN_ASSERT(orders.size() == replies.size());
    for (const w1::Order& order : orders) {
      arguments_.Build(sha_, order);
      if (redisAppendCommandArgv(context_.get(), arguments_.count(), arguments_.argv(),
                                 arguments_.lengths()) != REDIS_OK) {
        return Status::IOError(std::string("redis: ") + context_->errstr);
      }
    }
    for (Reply& out : replies) {
      ReplyPtr reply;
      ELEVEN_RETURN_IF_ERROR(GetReply(context_.get(), &reply));
      ELEVEN_RETURN_IF_ERROR(ParseOrderReply(reply.get(), &out));
    }
    return Status::Ok();
  }

 private:
  ContextPtr context_;
  std::string sha_;
  EvalArguments arguments_;
};

Status ParseLines(const char* text, StoredOrder* order) {
  // "sku:qty[,sku:qty...]"
  const char* p = text;
  while (*p != '\0') {
    if (order->line_count == w1::kLineCountMax) return Status::Corruption("redis: too many lines");
    char* end = nullptr;
    order->sku[order->line_count] = std::strtoull(p, &end, 10);
    if (*end != ':') return Status::Corruption(std::string("redis: bad lines ") + text);
    order->quantity[order->line_count] = static_cast<uint32_t>(std::strtoul(end + 1, &end, 10));
    order->line_count++;
    if (*end == ',') end++;
    p = end;
  }
  return Status::Ok();
}

Status ParseStoredOrder(const std::string& name, const redisReply* reply, StoredOrder* order) {
  // HMGET st id buyer tot lines
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5) {
    return Status::Corruption("redis: bad stored order " + name);
  }
  order->key = std::strtoull(name.c_str() + 2, nullptr, 10);
  int64_t status = 0;
  int64_t buyer = 0;
  if (!ParseInt(reply->element[0], &status) || !ParseInt(reply->element[1], &order->id) ||
      !ParseInt(reply->element[2], &buyer) || !ParseInt(reply->element[3], &order->total) ||
      status < 0 || status > 2) {
    return Status::Corruption("redis: bad stored order " + name);
  }
  order->status = static_cast<OrderStatus>(status);
  order->buyer = static_cast<uint64_t>(buyer);
  if (reply->element[4]->type == REDIS_REPLY_STRING)
    return ParseLines(reply->element[4]->str, order);
  return Status::Ok();
}

Status ReadOrders(redisContext* context, std::vector<StoredOrder>* orders) {
  std::vector<std::string> names;
  std::string cursor = "0";
  do {
    ReplyPtr reply;
    ELEVEN_RETURN_IF_ERROR(Call(
        context, {"SCAN", cursor, "MATCH", "o:*", "COUNT", std::to_string(kScanCount)}, &reply));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      return Status::Corruption("redis: bad SCAN reply");
    }
    cursor = reply->element[0]->str;
    const redisReply* keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; i++) names.emplace_back(keys->element[i]->str);
  } while (cursor != "0");
  orders->assign(names.size(), StoredOrder{});
  return Pipelined(
      context, names.size(),
      [&](uint64_t i) {
        return redisAppendCommand(context, "HMGET %s st id buyer tot lines", names[i].c_str());
      },
      [&](uint64_t i, redisReply* reply) {
        return ParseStoredOrder(names[i], reply, &(*orders)[i]);
      });
}

Status ReadState(redisContext* context, EndState* state) {
  state->stock.assign(w1::kSkuCount, 0);
  ELEVEN_RETURN_IF_ERROR(Pipelined(
      context, w1::kMerchantCount,
      [&](uint64_t merchant) {
        return redisAppendCommand(context, "HMGET m:%llu s0 s1 s2 s3 s4 s5 s6 s7 s8 s9",
                                  static_cast<unsigned long long>(merchant));
      },
      [&](uint64_t merchant, redisReply* reply) {
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != w1::kSkusPerMerchant) {
          return Status::Corruption("redis: merchant " + std::to_string(merchant) + " missing");
        }
        for (uint64_t k = 0; k < w1::kSkusPerMerchant; k++) {
          if (!ParseInt(reply->element[k], &state->stock[merchant * w1::kSkusPerMerchant + k])) {
            return Status::Corruption("redis: stock of a SKU missing");
          }
        }
        return Status::Ok();
      }));
  state->hot_holding_count.assign(w1::kHotSkuCount, 0);
  state->hot_holder_count.assign(w1::kHotSkuCount, 0);
  ELEVEN_RETURN_IF_ERROR(Pipelined(
      context, w1::kHotSkuCount,
      [&](uint64_t sku) {
        return redisAppendCommand(context, "SCARD h:%llu", static_cast<unsigned long long>(sku));
      },
      [&](uint64_t sku, redisReply* reply) {
        // A set holds each buyer once, so its size is both counts: more units sold than
        // members would mean a buyer holds two.
        if (!ParseInt(reply, &state->hot_holding_count[sku])) return Status::Corruption("SCARD");
        state->hot_holder_count[sku] = state->hot_holding_count[sku];
        return Status::Ok();
      }));
  return ReadOrders(context, &state->orders);
}

int Main(int argc, char** argv) {
  Options options;
  Status status = ParseOptions(argc, argv, &options);
  if (!status.ok()) {
    std::fprintf(stderr,
                 "w1_redis: %s\nusage: w1_redis --port N --durability durable|relaxed "
                 "[--orders N] [--connections C] [--pipeline P] [--seed S] [--host H]\n",
                 status.ToString().c_str());
    return 2;
  }
  ContextPtr control;
  status = Connect(options, &control);
  if (status.ok()) status = CheckServerDurability(control.get(), options.durability);
  ReplyPtr reply;
  if (status.ok()) status = Call(control.get(), {"SCRIPT", "LOAD", kPlaceOrderScript}, &reply);
  if (status.ok()) {
    std::fprintf(stderr, "redis: loading the catalog (1,000,000 SKUs, not timed)\n");
    const auto load_start = std::chrono::steady_clock::now();
    status = LoadCatalog(control.get(), options.durability);
    std::fprintf(
        stderr, "redis: catalog loaded in %.1f s\n",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());
  }
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; status.ok() && i < options.connection_count; i++) {
    ContextPtr context;
    status = Connect(options, &context);
    if (status.ok())
      sessions.push_back(std::make_unique<RedisSession>(std::move(context), reply->str));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "w1_redis: %s\n", status.ToString().c_str());
    return 1;
  }
  return RunAndReport("redis", options, sessions,
                      [&](EndState* state) { return ReadState(control.get(), state); });
}

}  // namespace
}  // namespace eleven::compare

int main(int argc, char** argv) { return eleven::compare::Main(argc, argv); }
