// The list routes of the HTTP gateway (docs/read-side.md, "Lists"): their query strings and
// cursors, who may read which list, and a page as JSON. The lists themselves are the read
// view's (view/read_view.h).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "view/read_view.h"
#include "server/api_keys.h"

namespace eleven::server {

// Calls take(name, text, number, value) for each name=value pair of a query string (`text`:
// the value as written; `number`: it is an unsigned integer, in `value`); stops at the first
// pair it refuses (returns false).
template <typename Take>
bool ForEachParam(std::string_view params, Take take) {
  while (!params.empty()) {
    const size_t amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string_view text = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    const bool number = !text.empty() && ec == std::errc() && end == text.data() + text.size();
    if (!take(pair.substr(0, eq), text, number, value)) return false;
  }
  return true;
}

struct ListQuery {
  view::ListRequest request;
  uint64_t min_op = 0;  // answer only once the view has reached this op
};

inline constexpr uint32_t kListLimitDefault = 20;
inline constexpr const char* kBadCursorMessage =
    "the cursor is damaged, or from another list or filter: use next_cursor as it came";

// Reads limit (1..100), cursor, state (a name of the list's items' states) and min_op for a
// list of `kind` owned by `owner`. False with *message: what was wrong; *bad_cursor says
// whether the cursor was (error code bad_cursor, else invalid_request).
bool ParseListQuery(view::ListKind kind, uint64_t owner, std::string_view params, ListQuery* query,
                    std::string* message, bool* bad_cursor);

// The opaque cursor of the page after `after` (48 hex digits: the list's kind, filter and
// owner, the position, and a check over them).
std::string EncodeCursor(const view::ListRequest& request, uint64_t after);
// The position a cursor continues after, if it is intact and of this list and filter.
bool DecodeCursor(const view::ListRequest& request, std::string_view text, uint64_t* after);

// Narrows `request` to what `caller` may see (docs/access.md, "Roles"); false: forbidden.
bool RestrictToCaller(const Caller& caller, view::ListRequest* request);

// {"op":N,"items":[...],"truncated":bool,"next_cursor":"..."} (next_cursor only if there is
// a next page); items as the by-id lookups show them.
std::string ListJson(const view::ListRequest& request, const view::ListPage& page);

}  // namespace eleven::server
