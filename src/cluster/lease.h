// The leader lease of a shard (docs/cluster.md, "Leadership"): the key `leader` of the
// key-value bucket eleven_<shard>_lease, whose TTL is the lease's length. Taken by a create
// (only if nobody holds it); its revision is the term. Renewed by updates conditioned on the
// last revision. JetStream does the compare-and-set; the lease only decides who tries to
// write: fencing is the stream's (cluster/jetstream_log.h).
//
// Threads: one thread uses a Lease (the node's lease thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cluster/nats.h"

namespace eleven::cluster {

std::string LeaseBucketName(const std::string& shard);

// Binds to the key-value bucket `bucket` through `nats`, creating it first through `admin`
// if it does not exist (history 1, file storage, `replicas`, values expiring after `ttl_ms`,
// 0 = never). Two nodes creating it at once both get the one bucket.
[[nodiscard]] Status OpenBucket(NatsConnection* admin, NatsConnection* nats,
                                const std::string& bucket, int replicas, int64_t ttl_ms,
                                kvStore** kv);

class Lease {
 public:
  // Creates the bucket through `admin` if it does not exist (history 1, TTL lease_ms,
  // `replicas`), then binds to it through `nats` (whose short timeout bounds each renewal).
  [[nodiscard]] static Status Open(NatsConnection* admin, NatsConnection* nats,
                                   const std::string& shard, int replicas, int64_t lease_ms,
                                   std::unique_ptr<Lease>* lease);
  ~Lease();

  // Takes the lease for `holder` if nobody holds it: *taken, and *term (the create's revision).
  [[nodiscard]] Status TryTake(const std::string& holder, bool* taken, uint64_t* term);
  // Renews the lease taken last (an update on its last revision). FailedPrecondition if it is
  // no longer this holder's (expired and taken by another, or deleted).
  [[nodiscard]] Status Renew();
  // Gives the lease up (deletes the key if it is still this holder's), so a successor need not
  // wait for it to expire.
  void Release();
  // Who holds it: NotFound if nobody.
  [[nodiscard]] Status Holder(std::string* holder, uint64_t* revision);

 private:
  Lease() = default;
  kvStore* kv_ = nullptr;
  std::string holder_;
  uint64_t revision_ = 0;  // the last revision written by this holder
};

}  // namespace eleven::cluster
