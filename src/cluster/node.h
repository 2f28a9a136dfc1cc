// A replica-set member (docs/cluster.md): the replica on its shard's stream, the leader
// lease, and the role the server's engine loop asks about (replica/role.h).
//
// Threads: Open on the caller's; Tend and leading() on the engine thread; a lease thread of
// its own (takes, renews and watches the lease every lease_ms / 4); the addresses and
// exit_reason() from any thread.
//
// Retention: each replica records the op of its newest snapshot in the key-value bucket
// eleven_<shard>_snapshots (key: its name; written when it starts and after each snapshot),
// and the leader trims the stream, every kTrimIntervalMs, through the smallest of them: every
// entry a registered replica may still need stays (docs/cluster.md, "Retention").
//
// Published snapshots: one follower (the first by name of the registered replicas that does
// not hold the lease) publishes each snapshot it takes to the object store bucket
// eleven_<shard>_snapshot_files as the object "snapshot", from a thread of its own; the leader
// trims no further than that snapshot's op; a replica whose data directory the stream does not
// continue restores it at Open (docs/cluster.md, "Published snapshots").
//
// Roles: a node starts as a follower. When its lease thread takes the lease (term T), the
// engine thread's next Tend reads the stream's last op, applies the stream up to it, and
// makes the log the writer of term T (JetStreamLog::Lead). A leader whose renewal fails, or
// whose log failed, gives exit_reason(): the server then stops and the process exits (status
// 75) to be restarted as a follower — its state may hold entries the stream refused.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/jetstream_log.h"
#include "cluster/lease.h"
#include "cluster/nats.h"
#include "cluster/object_store.h"
#include "replica/replica.h"
#include "replica/role.h"

namespace eleven::cluster {

inline constexpr int64_t kTrimIntervalMs = 5000;

std::string SnapshotBucketName(const std::string& shard);
std::string SnapshotFilesBucketName(const std::string& shard);
inline constexpr char kPublishedSnapshotObject[] = "snapshot";
inline constexpr char kPublishedSnapshotOpHeader[] = "Eleven-Op";

struct NodeOptions {
  std::string nats_urls;  // the nats-server nodes, comma-separated
  std::string shard;
  std::string name;  // this node's name (unique in the shard)
  int replicas = 3;  // of the stream and the lease bucket
  int64_t lease_ms = 2000;
  int64_t ack_timeout_ms = 5000;
  bool publish_snapshots = true;  // as the follower chosen to (see above)
  bool compress_entries = true;   // JetStreamLogOptions::compress_entries
  // A leader's reply also waits for its local copy's fdatasync (<dir>/cluster-copy; local_copy.h).
  bool local_fsync = false;
  std::string binary_address;  // what clients are redirected to ("host:port")
  std::string http_address;
};

// The header value the genesis entry carries for `shape` (docs/cluster.md).
std::string ShapeHeader(const replica::DataShape& shape);

class ClusterNode final : public replica::ReplicaRole {
 public:
  // Connects to NATS, makes sure the stream and the lease bucket exist, and opens the replica
  // at `dir` on the stream (recovering: its snapshot, then the stream to its end; first
  // fetching the published snapshot if the stream does not continue `dir`'s newest). The
  // replica goes to *replica and must be destroyed before the node (its log uses the node's
  // connection). FailedPrecondition if the servers' max_payload cannot carry the largest
  // entry, or the stream's genesis names another shape than the directory's.
  [[nodiscard]] static Status Open(const NodeOptions& options, Env* env, const std::string& dir,
                                   const replica::ReplicaOptions& replica_options,
                                   std::unique_ptr<ClusterNode>* node,
                                   std::unique_ptr<replica::Replica>* replica,
                                   replica::RecoveryReport* report,
                                   const replica::RecoveryProgress& progress = nullptr);
  ~ClusterNode() override;  // Stop()
  // Stops the lease and publishing threads (a leader releases the lease) and the log's consumer: no
  // callback of either runs after it returns. Once the engine thread no longer uses the node.
  void Stop();

  // Starts the lease thread. `wake` is called (from any thread) when the engine thread has
  // something to do: an entry to apply, the lease to take up, a reason to exit.
  // `binary_address` and `http_address` are where clients reach this node when it leads (the
  // lease's holder value names them).
  void Start(std::function<void()> wake, std::string binary_address, std::string http_address);

  bool leading() const override { return leading_; }
  replica::RoleWork Tend(replica::Replica* replica, std::span<wire::Result> results) override;
  std::string leader_binary_address() const override;
  std::string leader_http_address() const override;
  std::string exit_reason() const override;

  uint64_t term() const override { return term_.load(std::memory_order_acquire); }
  uint64_t catch_up_ms() const override { return catch_up_ms_.load(std::memory_order_relaxed); }

 private:
  explicit ClusterNode(const NodeOptions& options) : options_(options) {}
  void LeaseLoop();
  // Lease thread: records this replica's snapshot op; as the leader, trims the stream.
  void TendRetention(bool leading);
  void SetExit(const std::string& reason);
  // Publishing thread: publishes this replica's newest snapshot if it is the one to.
  void PublishLoop();
  void MaybePublishSnapshot();
  // Open: if the stream starts after `dir`'s newest snapshot, fetches the published one.
  static Status RestorePublishedSnapshot(ObjectStore* files, JetStreamLog* log, Env* env,
                                         const std::string& dir);
  std::string HolderValue() const;

  NodeOptions options_;                         // its addresses are set by Start
  std::unique_ptr<NatsConnection> nats_;        // the log's
  std::unique_ptr<NatsConnection> lease_nats_;  // the lease thread's (requests block)
  std::unique_ptr<Lease> lease_;
  kvStore* snapshots_ = nullptr;                 // the snapshots bucket, through lease_nats_
  uint64_t snapshot_op_published_ = UINT64_MAX;  // lease thread
  uint64_t trimmed_through_ = 0;                 // lease thread
  uint64_t trimmed_at_ns_ = 0;                   // lease thread
  JetStreamLog* log_ = nullptr;                  // owned by the replica
  Env* env_ = nullptr;
  std::string dir_;
  std::unique_ptr<NatsConnection> files_nats_;  // the object store's (chunks are large)
  std::unique_ptr<ObjectStore> files_;
  kvStore* publish_snapshots_ = nullptr;  // the snapshots bucket, through files_nats_
  uint64_t snapshot_op_files_ = 0;        // publishing thread: newest op published
  std::thread publish_thread_;
  std::function<void()> wake_;

  bool leading_ = false;           // engine thread
  std::atomic<uint64_t> term_{0};  // set by the lease thread when it takes the lease
  std::atomic<uint64_t> taken_at_ns_{0};
  std::atomic<uint64_t> catch_up_ms_{0};
  std::atomic<bool> stop_{false};
  std::thread lease_thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string leader_binary_;  // guarded by mutex_
  std::string leader_http_;    // guarded
  std::string leader_name_;    // guarded
  std::string exit_reason_;    // guarded
  std::atomic<bool> exiting_{false};
};

}  // namespace eleven::cluster
