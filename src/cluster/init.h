// Initializing a shard (`eleven cluster init`, docs/cluster.md "Entries"): its stream and
// lease bucket, and the genesis entry, op 1: the first command of a formatted data directory
// (the first operator key `eleven format` made), with the directory's shape in the
// Eleven-Shape header.
#pragma once

#include <string>

#include "cluster/nats.h"
#include "storage/env.h"

namespace eleven::cluster {

// Publishes the genesis entry of `shard` from the data directory `dir` (formatted, its
// journal starting with op 1). FailedPrecondition if the stream holds anything already (the
// shard is initialized: nothing is written), or `dir` does not start with one create_key.
[[nodiscard]] Status InitShard(NatsConnection* nats, const std::string& shard, int replicas,
                               Env* env, const std::string& dir);

}  // namespace eleven::cluster
