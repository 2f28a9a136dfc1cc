#include "server/http_lists.h"

#include <charconv>
#include <cstring>

#include "base/hash.h"
#include "server/json_encode.h"
#include "server/json_names.h"

namespace eleven::server {

namespace {

using view::ListKind;

struct CursorBytes {
  uint8_t kind;
  uint8_t filter;
  uint16_t reserved;
  uint32_t check;
  uint64_t owner;
  uint64_t after;
};
static_assert(sizeof(CursorBytes) == 24);

uint32_t CursorCheck(const CursorBytes& c) {
  const uint64_t head = uint64_t{c.kind} << 8 | c.filter;
  return static_cast<uint32_t>(Fmix64(c.owner ^ Fmix64(c.after ^ Fmix64(head + 0x656C6576656EULL))));
}

bool DecodeCursorBytes(std::string_view text, CursorBytes* c) {
  if (text.size() != 2 * sizeof(CursorBytes)) return false;
  uint8_t bytes[sizeof(CursorBytes)];
  for (size_t i = 0; i < sizeof(bytes); i++) {
    const auto [end, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, bytes[i], 16);
    if (ec != std::errc() || end != text.data() + 2 * i + 2) return false;
  }
  std::memcpy(c, bytes, sizeof(bytes));
  return c->reserved == 0 && c->check == CursorCheck(*c);
}

// The state names of a list's items (index = the state's value); empty: no state filter.
std::span<const std::string_view> StateNames(ListKind kind) {
  switch (kind) {
    case ListKind::kBuyerOrders:
    case ListKind::kMerchantOrders: return kOrderStateNames;
    case ListKind::kDrops: return kDropStateNames;
    case ListKind::kCourierParcels: return kParcelStateNames;
    case ListKind::kMerchantSkus:
    case ListKind::kAccountTransfers: break;
  }
  return {};
}

// Whether a filter may name state `value`: an order is never "none", and rejected attempts
// are not listed (they are not orders).
bool Filterable(ListKind kind, uint8_t value) {
  const bool orders = kind == ListKind::kBuyerOrders || kind == ListKind::kMerchantOrders;
  return !orders || (value != static_cast<uint8_t>(wire::OrderState::kNone) &&
                     value != static_cast<uint8_t>(wire::OrderState::kRejected));
}

}  // namespace

bool ParseListQuery(ListKind kind, uint64_t owner, std::string_view params, ListQuery* query,
                    std::string* message, bool* bad_cursor) {
  *bad_cursor = false;
  view::ListRequest& r = query->request;
  r = view::ListRequest{};
  r.kind = kind;
  r.owner = owner;
  r.limit = kListLimitDefault;
  std::string_view cursor;
  const bool read = ForEachParam(params, [&](std::string_view name, std::string_view value, bool is_number,
                                             uint64_t number) {
    if (name == "limit") {
      if (!is_number || number == 0 || number > view::kPageMax) {
        *message = "limit must be an integer from 1 to 100";
        return false;
      }
      r.limit = static_cast<uint32_t>(number);
    } else if (name == "min_op") {
      if (!is_number) {
        *message = "min_op must be a log op (an unsigned integer)";
        return false;
      }
      query->min_op = number;
    } else if (name == "cursor") {
      cursor = value;
    } else if (name == "state" && !StateNames(kind).empty()) {
      if (!ValueOf(StateNames(kind), value, &r.filter) || !Filterable(kind, r.filter)) {
        std::string names;
        const auto all = StateNames(kind);
        for (size_t v = 0; v < all.size(); v++) {
          if (!all[v].empty() && Filterable(kind, static_cast<uint8_t>(v))) {
            names += (names.empty() ? "" : ", ") + std::string(all[v]);
          }
        }
        *message = "state must be one of " + names;
        return false;
      }
    } else {
      *message = StateNames(kind).empty() ? "unknown query parameter (limit, cursor and min_op are known)"
                                          : "unknown query parameter (limit, cursor, state and min_op are known)";
      return false;
    }
    return true;
  });
  if (!read) return false;
  if (!cursor.empty() && !DecodeCursor(r, cursor, &r.after)) {
    *bad_cursor = true;
    *message = kBadCursorMessage;
    return false;
  }
  return true;
}

bool DecodeCursor(const view::ListRequest& request, std::string_view text, uint64_t* after) {
  CursorBytes c;
  if (!DecodeCursorBytes(text, &c) || c.kind != static_cast<uint8_t>(request.kind) ||
      c.owner != request.owner || c.filter != request.filter || c.after == 0) {
    return false;
  }
  *after = c.after;
  return true;
}

std::string EncodeCursor(const view::ListRequest& request, uint64_t after) {
  CursorBytes c{};
  c.kind = static_cast<uint8_t>(request.kind);
  c.filter = request.filter;
  c.owner = request.owner;
  c.after = after;
  c.check = CursorCheck(c);
  uint8_t bytes[sizeof(c)];
  std::memcpy(bytes, &c, sizeof(c));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (uint8_t b : bytes) {
    text += kHex[b >> 4];
    text += kHex[b & 15];
  }
  return text;
}

bool RestrictToCaller(const Caller& caller, view::ListRequest* r) {
  using wire::Role;
  if (caller.role == Role::kOperator || caller.role == Role::kViewer) return true;
  switch (r->kind) {
    case ListKind::kMerchantSkus:
    case ListKind::kDrops: return true;  // the catalog is public
    case ListKind::kBuyerOrders:
      if (caller.role == Role::kStorefront) r->storefront = caller.scope_id;
      if (caller.role == Role::kMerchant) r->merchant = caller.scope_id;
      return caller.role == Role::kStorefront || caller.role == Role::kMerchant;
    case ListKind::kMerchantOrders:
      if (caller.role == Role::kStorefront) r->storefront = caller.scope_id;
      return caller.role == Role::kStorefront || (caller.role == Role::kMerchant && r->owner == caller.scope_id);
    case ListKind::kCourierParcels: return caller.role == Role::kCourier && r->owner == caller.scope_id;
    case ListKind::kAccountTransfers: break;  // checked on the engine thread (QueryAccess)
  }
  return false;
}

std::string ListJson(const view::ListRequest& request, const view::ListPage& page) {
  std::string out = "{\"op\":" + std::to_string(page.op) + ",\"items\":[";
  bool first = true;
  auto item = [&](const std::string& json) {
    if (!first) out += ',';
    first = false;
    out += json;
  };
  for (const auto& o : page.orders) item(OrderJson(o));
  for (const auto& s : page.skus) item(SkuJson(s));
  for (const auto& d : page.drops) item(DropJson(d));
  for (const auto& p : page.parcels) item(ParcelJson(p));
  out += "],\"truncated\":";
  out += page.truncated ? "true" : "false";
  if (page.next != 0) out += ",\"next_cursor\":\"" + EncodeCursor(request, page.next) + "\"";
  out += '}';
  return out;
}

}  // namespace eleven::server
