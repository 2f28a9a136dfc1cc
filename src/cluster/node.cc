#include "cluster/node.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "base/assert.h"
#include "base/clock.h"
#include "replica/shape.h"
#include "storage/snapshot.h"
#include "wire/packed.h"

namespace eleven::cluster {

namespace {

// The value after "<name>=" in a holder value "node=a binary=h:p http=h:p", or "".
std::string HolderField(const std::string& holder, const std::string& name) {
  const std::string key = name + "=";
  size_t at = 0;
  while (at < holder.size()) {
    const size_t end = std::min(holder.find(' ', at), holder.size());
    if (holder.compare(at, key.size(), key) == 0)
      return holder.substr(at + key.size(), end - at - key.size());
    at = end + 1;
  }
  return "";
}

// The op a published snapshot's description names (its Eleven-Op header); 0 if none.
uint64_t PublishedOp(const ObjectInfo& info) {
  const auto op = info.headers.find(kPublishedSnapshotOpHeader);
  return op == info.headers.end() ? 0 : std::strtoull(op->second.c_str(), nullptr, 10);
}

bool ChangesKeys(std::span<const wire::Result> results) {
  for (const wire::Result& r : results) {
    if ((r.operation == wire::kCreateKey || r.operation == wire::kRevokeKey) &&
        r.code == wire::Code::ok && !wire::IsReplay(r)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string SnapshotBucketName(const std::string& shard) {
  return "eleven_" + shard + "_snapshots";
}

std::string SnapshotFilesBucketName(const std::string& shard) {
  return "eleven_" + shard + "_snapshot_files";
}

std::string ShapeHeader(const replica::DataShape& shape) {
  std::string out;
  for (const ManifestEntry& e : replica::ShapeToManifest(shape)) {
    if (!out.empty()) out += "; ";
    out += e.key + "=" + e.value;
  }
  return out;
}

Status ClusterNode::Open(const NodeOptions& options, Env* env, const std::string& dir,
                         const replica::ReplicaOptions& replica_options,
                         std::unique_ptr<ClusterNode>* node,
                         std::unique_ptr<replica::Replica>* replica,
                         replica::RecoveryReport* report,
                         const replica::RecoveryProgress& progress) {
  ELEVEN_RETURN_IF_ERROR(CheckShardName(options.shard));
  if (options.name.empty())
    return Status::InvalidArgument("a cluster node needs a name ([cluster] node)");
  if (options.replicas < 1 || options.replicas > 5) {
    return Status::InvalidArgument("[cluster] replicas is 1..5, not " +
                                   std::to_string(options.replicas));
  }
  if (options.lease_ms < 200 || options.lease_ms > 60000) {
    return Status::InvalidArgument("[cluster] lease_ms is 200..60000, not " +
                                   std::to_string(options.lease_ms));
  }
  std::unique_ptr<ClusterNode> n(new ClusterNode(options));
  // Three connections: the log's, the lease's and the object store's (large chunks).
  const auto connect = [&](const char* use, int64_t timeout_ms,
                           std::unique_ptr<NatsConnection>* out) {
    return NatsConnection::Connect(NatsOptions{.urls = options.nats_urls,
                                               .name = "eleven-" + options.name + "-" + use,
                                               .timeout_ms = timeout_ms},
                                   out);
  };
  ELEVEN_RETURN_IF_ERROR(connect("log", options.ack_timeout_ms, &n->nats_));
  // Lease requests must not outlast the lease: a renewal that waits longer is a lost one.
  ELEVEN_RETURN_IF_ERROR(
      connect("lease", std::max<int64_t>(100, options.lease_ms / 4), &n->lease_nats_));
  ELEVEN_RETURN_IF_ERROR(connect("files", options.ack_timeout_ms, &n->files_nats_));
  const uint64_t entry_max =
      kEntryHeadSize +
      uint64_t{replica_options.engine.batch_command_count_max} * wire::kPackedCommandSizeMax;
  const int64_t payload_max = natsConnection_GetMaxPayload(n->nats_->nc());
  if (payload_max < int64_t(entry_max)) {
    return Status::FailedPrecondition(
        "the NATS servers carry messages of at most " + std::to_string(payload_max) +
        " bytes; an entry of " + std::to_string(replica_options.engine.batch_command_count_max) +
        " commands may take " + std::to_string(entry_max) +
        ": set max_payload: 8MB in nats-server's configuration");
  }
  ELEVEN_RETURN_IF_ERROR(EnsureStream(n->nats_.get(), options.shard, options.replicas));
  ELEVEN_RETURN_IF_ERROR(Lease::Open(n->nats_.get(), n->lease_nats_.get(), options.shard,
                                     options.replicas, options.lease_ms, &n->lease_));
  replica::DataShape shape;
  ELEVEN_RETURN_IF_ERROR(replica::ReadDataShape(env, dir, &shape));
  auto log = std::make_unique<JetStreamLog>(
      n->nats_.get(),
      JetStreamLogOptions{.shard = options.shard,
                          .replicas = options.replicas,
                          .command_count_max = replica_options.engine.batch_command_count_max,
                          .ack_timeout_ms = options.ack_timeout_ms,
                          .shape = ShapeHeader(shape),
                          .compress_entries = options.compress_entries,
                          .local_copy_dir = options.local_fsync ? dir + "/cluster-copy" : "",
                          .env = env});
  n->log_ = log.get();
  ELEVEN_RETURN_IF_ERROR(OpenBucket(n->nats_.get(), n->lease_nats_.get(),
                                    SnapshotBucketName(options.shard), options.replicas, 0,
                                    &n->snapshots_));
  ELEVEN_RETURN_IF_ERROR(ObjectStore::Open(
      n->files_nats_.get(), SnapshotFilesBucketName(options.shard), options.replicas, &n->files_));
  ELEVEN_RETURN_IF_ERROR(OpenBucket(n->nats_.get(), n->files_nats_.get(),
                                    SnapshotBucketName(options.shard), options.replicas, 0,
                                    &n->publish_snapshots_));
  n->env_ = env;
  n->dir_ = dir;
  ELEVEN_RETURN_IF_ERROR(RestorePublishedSnapshot(n->files_.get(), log.get(), env, dir));
  const Status opened =
      replica::Replica::Open(env, dir, replica_options, std::move(log), replica, report, progress);
  if (!opened.ok()) {
    n->log_ = nullptr;  // went with the replica that could not open
    return opened;
  }
  // Registered before it serves: from now on the stream keeps what this replica needs.
  const std::string op = std::to_string(report->snapshot_found ? report->snapshot_op : 0);
  uint64_t revision = 0;
  const natsStatus s =
      kvStore_PutString(&revision, n->snapshots_, options.name.c_str(), op.c_str());
  if (s != NATS_OK) return NatsError(s, "registering node " + options.name + "'s snapshot op");
  *node = std::move(n);
  return Status::Ok();
}

ClusterNode::~ClusterNode() {
  Stop();
  if (snapshots_ != nullptr) kvStore_Destroy(snapshots_);
  if (publish_snapshots_ != nullptr) kvStore_Destroy(publish_snapshots_);
}

void ClusterNode::Stop() {
  stop_.store(true, std::memory_order_release);
  cv_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (publish_thread_.joinable()) publish_thread_.join();
  if (lease_ != nullptr && term_.load() != 0) lease_->Release();
  term_.store(0, std::memory_order_release);
  if (log_ != nullptr) log_->StopFollowing();
}

void ClusterNode::Start(std::function<void()> wake, std::string binary_address,
                        std::string http_address) {
  ELEVEN_ASSERT(!lease_thread_.joinable());
  options_.binary_address = std::move(binary_address);
  options_.http_address = std::move(http_address);
  wake_ = std::move(wake);
  log_->set_followed_callback(wake_);
  lease_thread_ = std::thread([this] { LeaseLoop(); });
  if (options_.publish_snapshots) publish_thread_ = std::thread([this] { PublishLoop(); });
}

std::string ClusterNode::HolderValue() const {
  return "node=" + options_.name + " binary=" + options_.binary_address +
         " http=" + options_.http_address;
}

std::string ClusterNode::leader_binary_address() const {
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mutex_));
  return leader_binary_;
}

std::string ClusterNode::leader_http_address() const {
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mutex_));
  return leader_http_;
}

std::string ClusterNode::exit_reason() const {
  if (!exiting_.load(std::memory_order_acquire)) return "";
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mutex_));
  return exit_reason_;
}

void ClusterNode::SetExit(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!exit_reason_.empty()) return;
    exit_reason_ = reason;
  }
  exiting_.store(true, std::memory_order_release);
  std::fprintf(stderr, "eleven serve: node %s of shard %s must stop: %s\n", options_.name.c_str(),
               options_.shard.c_str(), reason.c_str());
  if (wake_) wake_();
}

void ClusterNode::LeaseLoop() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(10, options_.lease_ms / 4));
  const uint64_t renew_within_ns = uint64_t(options_.lease_ms) * 3 / 4 * 1000000;
  uint64_t renewed_ns = 0;
  while (!stop_.load(std::memory_order_acquire) && !exiting_.load(std::memory_order_acquire)) {
    if (term_.load(std::memory_order_acquire) == 0) {
      bool taken = false;
      uint64_t term = 0;
      const uint64_t started = MonotonicNs();
      const Status s = lease_->TryTake(HolderValue(), &taken, &term);
      if (s.ok() && taken) {
        renewed_ns = started;
        taken_at_ns_.store(started, std::memory_order_relaxed);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          leader_binary_ = options_.binary_address;
          leader_http_ = options_.http_address;
          leader_name_ = options_.name;
        }
        term_.store(term, std::memory_order_release);
        std::fprintf(stderr, "eleven serve: node %s took the lease of shard %s: term %llu\n",
                     options_.name.c_str(), options_.shard.c_str(),
                     static_cast<unsigned long long>(term));
        if (wake_) wake_();
      } else {
        std::string holder;
        uint64_t revision = 0;
        const Status held = lease_->Holder(&holder, &revision);
        std::lock_guard<std::mutex> lock(mutex_);
        leader_binary_ = held.ok() ? HolderField(holder, "binary") : "";
        leader_http_ = held.ok() ? HolderField(holder, "http") : "";
        leader_name_ = held.ok() ? HolderField(holder, "node") : "";
      }
    } else {
      const uint64_t started = MonotonicNs();
      const Status s = lease_->Renew();
      if (s.ok()) {
        renewed_ns = started;
      } else if (s.code() == StatusCode::kFailedPrecondition) {
        SetExit("deposed: " + s.message());
        break;
      }
      if (MonotonicNs() - renewed_ns > renew_within_ns) {
        SetExit("the lease was not renewed for " +
                std::to_string((MonotonicNs() - renewed_ns) / 1000000) + " ms (" + s.ToString() +
                ")");
        break;
      }
    }
    TendRetention(term_.load(std::memory_order_acquire) != 0);
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, period, [this] { return stop_.load(std::memory_order_acquire); });
  }
}

void ClusterNode::TendRetention(bool leading) {
  const uint64_t op = log_->snapshot_op();
  if (op != 0 && op != snapshot_op_published_) {
    uint64_t revision = 0;
    if (kvStore_PutString(&revision, snapshots_, options_.name.c_str(),
                          std::to_string(op).c_str()) == NATS_OK) {
      snapshot_op_published_ = op;
    }
  }
  if (!leading || MonotonicNs() - trimmed_at_ns_ < uint64_t(kTrimIntervalMs) * 1000000) return;
  trimmed_at_ns_ = MonotonicNs();
  kvKeysList keys{};
  if (kvStore_Keys(&keys, snapshots_, nullptr) != NATS_OK) return;
  uint64_t oldest = UINT64_MAX;
  for (int i = 0; i < keys.Count; i++) {
    kvEntry* entry = nullptr;
    if (kvStore_Get(&entry, snapshots_, keys.Keys[i]) != NATS_OK) {
      oldest = 0;  // unreadable: keep everything this time
      continue;
    }
    oldest = std::min<uint64_t>(oldest, std::strtoull(kvEntry_ValueString(entry), nullptr, 10));
    kvEntry_Destroy(entry);
  }
  kvKeysList_Destroy(&keys);
  // Nor past the published snapshot: a wiped replica restores it and needs the entries after.
  ObjectInfo published;
  const Status found = files_->Info(kPublishedSnapshotObject, &published);
  if (found.ok()) {
    oldest = std::min(oldest, PublishedOp(published));
  } else if (found.code() != StatusCode::kNotFound) {
    return;  // unknown: trim nothing this time
  }
  if (oldest == UINT64_MAX || oldest <= trimmed_through_) return;
  const Status trimmed = log_->TrimThrough(oldest);
  if (!trimmed.ok()) {
    std::fprintf(stderr, "eleven serve: %s\n", trimmed.ToString().c_str());
    return;
  }
  trimmed_through_ = oldest;
  std::fprintf(stderr,
               "eleven serve: stream of shard %s trimmed through op %llu (the oldest snapshot a "
               "replica needs)\n",
               options_.shard.c_str(), static_cast<unsigned long long>(oldest));
}

void ClusterNode::PublishLoop() {
  while (!stop_.load(std::memory_order_acquire)) {
    MaybePublishSnapshot();
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(1),
                 [this] { return stop_.load(std::memory_order_acquire); });
  }
}

void ClusterNode::MaybePublishSnapshot() {
  const uint64_t op = log_->snapshot_op();
  if (op == 0 || op <= snapshot_op_files_ || term_.load(std::memory_order_acquire) != 0) return;
  std::string leader;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    leader = leader_name_;
  }
  if (leader.empty()) return;  // nobody leads: whom to leave it to is not known
  // The first registered replica by name, the leader aside, publishes.
  kvKeysList keys{};
  if (kvStore_Keys(&keys, publish_snapshots_, nullptr) != NATS_OK) return;
  std::string first;
  for (int i = 0; i < keys.Count; i++) {
    const std::string name = keys.Keys[i];
    if (name != leader && (first.empty() || name < first)) first = name;
  }
  kvKeysList_Destroy(&keys);
  if (first != options_.name) return;
  std::vector<SnapshotFile> snapshots;
  Status s = ListSnapshots(env_, dir_, &snapshots);
  if (!s.ok() || snapshots.empty()) return;
  const SnapshotFile& newest = snapshots.front();
  ObjectInfo info;
  if (files_->Info(kPublishedSnapshotObject, &info).ok() && PublishedOp(info) >= newest.op) {
    snapshot_op_files_ = op;  // published already (by this node before a restart, say)
    return;
  }
  const uint64_t started = MonotonicNs();
  s = files_->PutFile(
      env_, kPublishedSnapshotObject, newest.path,
      {{kPublishedSnapshotOpHeader, std::to_string(newest.op)}, {"Eleven-Node", options_.name}},
      ObjectEncoding::kZstd, &info);
  if (!s.ok()) {
    std::fprintf(stderr, "eleven serve: publishing the snapshot at op %llu: %s\n",
                 static_cast<unsigned long long>(newest.op), s.ToString().c_str());
    return;  // tried again in a second
  }
  snapshot_op_files_ = std::max(op, newest.op);
  std::fprintf(stderr,
               "eleven serve: published the snapshot at op %llu (%llu bytes, %llu chunks) to "
               "%s in %llu ms\n",
               static_cast<unsigned long long>(newest.op),
               static_cast<unsigned long long>(info.size_bytes),
               static_cast<unsigned long long>(info.chunks), files_->stream().c_str(),
               static_cast<unsigned long long>((MonotonicNs() - started) / 1000000));
}

Status ClusterNode::RestorePublishedSnapshot(ObjectStore* files, JetStreamLog* log, Env* env,
                                             const std::string& dir) {
  std::vector<SnapshotFile> snapshots;
  ELEVEN_RETURN_IF_ERROR(ListSnapshots(env, dir, &snapshots));
  const uint64_t have = snapshots.empty() ? 0 : snapshots.front().op;
  uint64_t first = 0;
  uint64_t last = 0;
  ELEVEN_RETURN_IF_ERROR(log->StreamBounds(&first, &last));
  if (last == 0 || have + 1 >= first) return Status::Ok();  // the stream continues `dir`
  ObjectInfo info;
  const Status found = files->Info(kPublishedSnapshotObject, &info);
  if (found.code() == StatusCode::kNotFound) return Status::Ok();  // recovery refuses, naming why
  ELEVEN_RETURN_IF_ERROR(found);
  const uint64_t op = PublishedOp(info);
  if (op <= have || op + 1 < first) return Status::Ok();  // no help: recovery refuses
  std::fprintf(stderr,
               "eleven serve: the stream starts at op %llu, after this directory's state (op "
               "%llu): restoring the published snapshot at op %llu (%llu bytes) from %s\n",
               static_cast<unsigned long long>(first), static_cast<unsigned long long>(have),
               static_cast<unsigned long long>(op),
               static_cast<unsigned long long>(info.size_bytes), files->stream().c_str());
  const std::string path = dir + "/" + SnapshotName(op);
  ELEVEN_RETURN_IF_ERROR(files->GetFile(env, kPublishedSnapshotObject, path, &info));
  SnapshotHeader header;
  Status s = ReadSnapshot(env, path, &header, nullptr);
  if (s.ok() && header.op != op) {
    s = Status::Corruption("the published snapshot says op " + std::to_string(op) +
                           " but its file holds op " + std::to_string(header.op));
  }
  if (!s.ok()) {
    (void)env->RemoveFile(path);
    return s;
  }
  return Status::Ok();
}

replica::RoleWork ClusterNode::Tend(replica::Replica* replica, std::span<wire::Result> results) {
  replica::RoleWork work;
  if (exiting_.load(std::memory_order_acquire)) return work;
  if (replica->journal_failed()) {
    SetExit("the stream did not take an entry as expected: " +
            replica->journal_failure().ToString());
    return work;
  }
  const auto apply = [&](const FollowedEntry& entry) {
    Status s = entry.status;
    if (s.ok()) s = replica->ApplyLogged(entry.op, entry.timestamp_us, entry.commands, results);
    if (!s.ok()) {
      SetExit("cannot apply the stream: " + s.ToString());
      return false;
    }
    log_->NoteApplied(entry);
    work.entries_applied++;
    work.keys_changed |= ChangesKeys(results.first(entry.commands.size()));
    return true;
  };
  FollowedEntry entry;
  if (leading_) return work;
  const uint64_t term = term_.load(std::memory_order_acquire);
  if (term == 0) {
    // A follower: what the stream delivered, a bounded number per pass.
    constexpr uint64_t kEntriesPerPassMax = 256;
    while (work.entries_applied < kEntriesPerPassMax && log_->NextFollowed(&entry)) {
      if (!apply(entry)) return work;
    }
    return work;
  }
  // The lease is ours: apply the stream to its end, then write.
  uint64_t last = 0;
  Status s = log_->StreamLastOp(&last);
  while (s.ok() && replica->op_submitted() < last) {
    if (!log_->WaitFollowed(&entry, options_.ack_timeout_ms)) {
      s = Status::Unavailable("the stream delivered nothing after op " +
                              std::to_string(replica->op_submitted()) +
                              " while catching up to op " + std::to_string(last));
      break;
    }
    if (!apply(entry)) return work;
  }
  if (s.ok()) s = log_->Lead(term);
  if (!s.ok()) {
    SetExit("could not start leading term " + std::to_string(term) + ": " + s.ToString());
    return work;
  }
  leading_ = true;
  work.role_changed = true;
  catch_up_ms_.store((MonotonicNs() - taken_at_ns_.load(std::memory_order_relaxed)) / 1000000,
                     std::memory_order_relaxed);
  std::fprintf(
      stderr,
      "eleven serve: node %s leads shard %s, term %llu, from op %llu (caught up in %llu ms)\n",
      options_.name.c_str(), options_.shard.c_str(), static_cast<unsigned long long>(term),
      static_cast<unsigned long long>(replica->op_submitted()),
      static_cast<unsigned long long>(catch_up_ms_.load()));
  return work;
}

}  // namespace eleven::cluster
