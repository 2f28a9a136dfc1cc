#include "server/api_keys.h"

#include "base/assert.h"
#include "engine/engine.h"

namespace eleven::server {

std::shared_ptr<const ApiKeyTable> ApiKeyTable::Of(const engine::Engine& engine) {
  auto table = std::make_shared<ApiKeyTable>();
  for (uint32_t id = 1; id <= engine.api_key_count(); id++) {
    const engine::ApiKeyRow& row = engine.api_key(id);
    if (row.state != wire::KeyState::kActive) continue;
    client::KeySecretHash hash;
    std::copy(std::begin(row.secret_sha256), std::end(row.secret_sha256), hash.begin());
    const Caller caller{id, row.role, row.scope_id};
    table->by_hash_.emplace(hash, caller);
    table->by_id_.emplace(id, caller);
  }
  return table;
}

bool ApiKeyTable::Find(std::string_view secret, Caller* caller) const {
  if (!client::WellFormedKeySecret(secret)) return false;
  const auto it = by_hash_.find(client::HashKeySecret(secret));
  if (it == by_hash_.end()) return false;
  *caller = it->second;
  return true;
}

bool ApiKeyTable::FindId(uint32_t key_id, Caller* caller) const {
  const auto it = by_id_.find(key_id);
  if (it == by_id_.end()) return false;
  *caller = it->second;
  return true;
}

}  // namespace eleven::server
