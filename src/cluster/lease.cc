#include "cluster/lease.h"

namespace eleven::cluster {

namespace {
constexpr const char* kLeaderKey = "leader";
}  // namespace

std::string LeaseBucketName(const std::string& shard) { return "eleven_" + shard + "_lease"; }

Status OpenBucket(NatsConnection* admin, NatsConnection* nats, const std::string& bucket,
                  int replicas, int64_t ttl_ms, kvStore** kv) {
  kvStore* created = nullptr;
  natsStatus s = js_KeyValue(&created, admin->js(), bucket.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig config;
    kvConfig_Init(&config);
    config.Bucket = bucket.c_str();
    config.History = 1;
    config.TTL = ttl_ms * 1000 * 1000;  // nanoseconds (nats.c 3.4)
    config.Replicas = replicas;
    config.StorageType = js_FileStorage;
    s = js_CreateKeyValue(&created, admin->js(), &config);
  }
  if (created != nullptr) kvStore_Destroy(created);
  if (s != NATS_OK) return NatsError(s, "key-value bucket " + bucket);
  s = js_KeyValue(kv, nats->js(), bucket.c_str());
  if (s != NATS_OK) return NatsError(s, "key-value bucket " + bucket);
  return Status::Ok();
}

Status Lease::Open(NatsConnection* admin, NatsConnection* nats, const std::string& shard,
                   int replicas, int64_t lease_ms, std::unique_ptr<Lease>* out) {
  std::unique_ptr<Lease> lease(new Lease());
  ELEVEN_RETURN_IF_ERROR(
      OpenBucket(admin, nats, LeaseBucketName(shard), replicas, lease_ms, &lease->kv_));
  *out = std::move(lease);
  return Status::Ok();
}

Lease::~Lease() {
  if (kv_ != nullptr) kvStore_Destroy(kv_);
}

Status Lease::Holder(std::string* holder, uint64_t* revision) {
  kvEntry* entry = nullptr;
  const natsStatus s = kvStore_Get(&entry, kv_, kLeaderKey);
  if (s == NATS_NOT_FOUND) return Status::NotFound("nobody holds the lease");
  if (s != NATS_OK) return NatsError(s, "reading the lease");
  holder->assign(static_cast<const char*>(kvEntry_Value(entry)), size_t(kvEntry_ValueLen(entry)));
  *revision = kvEntry_Revision(entry);
  kvEntry_Destroy(entry);
  return Status::Ok();
}

Status Lease::TryTake(const std::string& holder, bool* taken, uint64_t* term) {
  *taken = false;
  uint64_t revision = 0;
  const natsStatus s =
      kvStore_Create(&revision, kv_, kLeaderKey, holder.data(), int(holder.size()));
  if (s == NATS_OK) {
    holder_ = holder;
    revision_ = revision;
    *term = revision;
    *taken = true;
    return Status::Ok();
  }
  // Refused because the key exists (someone holds it), or a real failure: tell them apart.
  std::string current;
  uint64_t current_revision = 0;
  const Status held = Holder(&current, &current_revision);
  if (held.ok()) return Status::Ok();
  return NatsError(s, "taking the lease");
}

Status Lease::Renew() {
  if (revision_ == 0) return Status::FailedPrecondition("the lease was not taken");
  uint64_t revision = 0;
  const natsStatus s =
      kvStore_Update(&revision, kv_, kLeaderKey, holder_.data(), int(holder_.size()), revision_);
  if (s != NATS_OK) {
    const Status failed = NatsError(s, "renewing the lease");
    if (failed.code() == StatusCode::kUnavailable) return failed;
    return Status::FailedPrecondition("the lease is no longer ours: " + failed.message());
  }
  revision_ = revision;
  return Status::Ok();
}

void Lease::Release() {
  if (revision_ == 0) return;
  std::string current;
  uint64_t current_revision = 0;
  if (Holder(&current, &current_revision).ok() && current_revision == revision_) {
    kvStore_Delete(kv_, kLeaderKey);
  }
  revision_ = 0;
}

}  // namespace eleven::cluster
