// Answers protocol queries (docs/protocol.md, "Queries") from the engine state: the order
// engine's records, the ledger's and fulfilment's, and the engine digest. Used by the engine
// loop for binary and HTTP queries alike.
//
// Thread-safety: none; engine thread only (it reads the engine). Owns scratch tables for
// account-transfer lists and sales figures, allocated at construction, so answering
// allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "client/protocol.h"
#include "engine/engine.h"
#include "server/api_keys.h"

namespace eleven::server {

// Whether `caller` may read what a query entry with request record `key` names
// (docs/access.md, "Roles"): ok, forbidden, or unauthenticated for no principal.
wire::Code QueryAccess(const engine::Engine& engine, protocol::Operation operation,
                       const uint64_t* key, const Caller& caller);

class QueryAnswerer {
 public:
  QueryAnswerer();

  // Writes the reply entries of a query with `count` request records (`keys`: the request
  // body as u64 words, empty for a keyless query) into `body`, which has room for
  // protocol::ReplyEntryCountMax entries; returns how many entries it wrote. By-key and
  // keyless queries write `count` entries; a list query writes its n entries (0 for an empty
  // list) or one entry with the code that refused it.
  // Each entry is first checked against the caller (QueryAccess): a refused one carries
  // forbidden and no record.
  uint32_t Answer(const engine::Engine& engine, protocol::Operation operation,
                  std::span<const uint64_t> keys, uint32_t count, std::span<std::byte> body,
                  const Caller& caller);

 private:
  uint32_t AnswerList(const engine::Engine& engine, protocol::Operation operation,
                      std::span<const uint64_t> keys, std::span<std::byte> body);
  std::unique_ptr<wire::TransferRecord[]> transfers_;  // kAccountTransfersMax
  std::unique_ptr<wire::SalesRecord[]> sales_;  // kSalesFixedEntriesMax + kSalesDropsMax
};

}  // namespace eleven::server
