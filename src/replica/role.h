// A replica's role in a replica set (cluster mode, docs/cluster.md), as the server's engine
// loop sees it: whether it may sequence writes, and the work its role asks of the engine
// thread. A single-node server has none (it always leads). Implemented by
// cluster::ClusterNode.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "replica/replica.h"
#include "wire/records.h"

namespace eleven::replica {

struct RoleWork {
  uint64_t entries_applied = 0;  // a follower applied entries the log delivered
  bool keys_changed = false;     // one of them created or revoked an API key
  bool role_changed = false;     // it started leading
};

class ReplicaRole {
 public:
  virtual ~ReplicaRole() = default;
  // Engine thread: whether Submit and Tick may be called now.
  virtual bool leading() const = 0;
  // Engine thread, once a pass: a follower applies what the log delivered (ApplyLogged, with
  // `results` as scratch of the engine's batch size); a node that was given the lease catches
  // up with the log and starts leading. Never blocks long but for that catch-up.
  virtual RoleWork Tend(Replica* replica, std::span<wire::Result> results) = 0;
  // Any thread: the leader's binary address ("host:port"), "" if none is known.
  virtual std::string leader_binary_address() const = 0;
  // Any thread: the leader's HTTP address, "" if none is known.
  virtual std::string leader_http_address() const = 0;
  // Any thread: the term it leads or was given the lease for (0 while it follows), and how
  // long its last catch-up took (from taking the lease to leading).
  virtual uint64_t term() const = 0;
  virtual uint64_t catch_up_ms() const = 0;
  // Any thread: why this node must stop (deposed, or its log failed), "" while it may run.
  virtual std::string exit_reason() const = 0;
};

}  // namespace eleven::replica
