// A shard's JetStream stream as a replica's Log (replica/log.h; docs/cluster.md).
//
// A replica on this log is a follower until its node takes the lease: Recover applies the
// stream up to its last message, and an ordered consumer keeps delivering the entries after
// it, decoded on nats.c's thread into a bounded queue that the engine thread drains
// (NextFollowed, then Replica::ApplyLogged). Lead() turns it into the writer of a term:
// Append publishes each entry asynchronously (many in flight) with its message id
// "<term>-<op>", the sequence it expects before it and, after a term's first entry, the id of
// the entry before it; Sync waits for every ack and fails for good unless each came back
// without error, not a duplicate, with sequence = its op.
//
// Threads: Recover, NextFollowed, Lead on the engine thread; Append, Sync, Release on the
// replica's sync thread; the consumer's and acks' callbacks on nats.c's threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/entry.h"
#include "cluster/local_copy.h"
#include "cluster/nats.h"
#include "replica/log.h"

namespace eleven::cluster {

struct JetStreamLogOptions {
  std::string shard;               // stream ELEVEN_<shard>, subject eleven.<shard>.log
  int replicas = 3;                // of a stream this log creates
  uint32_t command_count_max = 0;  // the engine's batch limit (an entry holds no more)
  // An entry not acknowledged this long after it was published fails the log.
  int64_t ack_timeout_ms = 5000;
  // Entries decoded ahead of the engine thread; a full queue holds the consumer back.
  uint32_t follow_queue_max = 256;
  // The shard's shape (docs/cluster.md, "Entries"): the genesis entry's Eleven-Shape header
  // must equal it. Empty: not checked.
  std::string shape;
  // The leader writes entry bodies zstd-compressed (body format 2; docs/cluster.md,
  // "Entries"). Readers take both formats whatever this says.
  bool compress_entries = true;
  // The leader's local copy (local_copy.h; docs/cluster.md): empty: none. A reply then also
  // waits for the copy's fdatasync, and Recover publishes again what the copy holds past the
  // stream's end.
  std::string local_copy_dir;
  Env* env = nullptr;  // of the local copy
};

// Stream and subject names of a shard.
std::string StreamName(const std::string& shard);
std::string SubjectName(const std::string& shard);
// InvalidArgument unless `shard` is 1..32 of [A-Za-z0-9_-].
[[nodiscard]] Status CheckShardName(const std::string& shard);

// Creates the shard's stream if it does not exist (file storage, `replicas`, 8 MiB messages,
// 2 min duplicate window); ok if it exists with those settings. Tries again for up to 10 s
// while JetStream answers neither the create nor the info (a cluster just formed).
[[nodiscard]] Status EnsureStream(NatsConnection* nats, const std::string& shard, int replicas);

// An entry delivered by the stream to a follower.
struct FollowedEntry {
  uint64_t op = 0;
  uint64_t timestamp_us = 0;
  std::vector<wire::Command> commands;
  std::string message_id;
  uint64_t bytes = 0;  // the message's size
  Status status;       // not ok: the stream delivered something that is not the next entry
};

class JetStreamLog final : public replica::Log {
 public:
  // `nats` must outlive the log. The stream must exist (EnsureStream).
  JetStreamLog(NatsConnection* nats, const JetStreamLogOptions& options);
  ~JetStreamLog() override;

  // Applies the stream's entries after engine->last_op() up to its last message (as the
  // stream info names it when Recover starts), and goes on following it. FailedPrecondition
  // if the stream is empty (not initialized: `eleven cluster init`), starts after the entry
  // the engine needs next (trimmed past this replica's snapshot), ends before the engine's
  // op (another stream), or its genesis names another shape.
  [[nodiscard]] Status Recover(engine::Engine* engine, const replica::RecoveryProgress& progress,
                               replica::ReplayReport* report) override;

  // Engine thread, following: the next entry delivered, if one is queued (never blocks).
  bool NextFollowed(FollowedEntry* entry);
  // Engine thread, following: waits up to `timeout_ms` for one.
  bool WaitFollowed(FollowedEntry* entry, int64_t timeout_ms);
  // Called (on nats.c's thread) when an entry is queued: e.g. to wake the engine thread.
  void set_followed_callback(std::function<void()> callback);
  // The op and message id of the last entry applied (Recover, and NextFollowed's caller's
  // NoteApplied after each ApplyLogged).
  void NoteApplied(const FollowedEntry& entry);
  uint64_t op_applied() const { return op_applied_; }

  // The stream's last sequence (= op) now, asked of JetStream.
  [[nodiscard]] Status StreamLastOp(uint64_t* op) const;

  // Engine thread: stops following and makes this log the writer of `term`. The replica must
  // have applied everything the stream held when the lease was taken; FailedPrecondition if
  // an entry after op_applied() was delivered meanwhile (another writer was still writing).
  [[nodiscard]] Status Lead(uint64_t term);
  bool leading() const { return term_ != 0; }
  // Stops the consumer: no followed callback runs after it returns (Lead and the destructor
  // do it too).
  void StopFollowing();

  [[nodiscard]] Status Append(const replica::LogEntry& entry) override;
  [[nodiscard]] Status Sync() override;
  [[nodiscard]] Status Release(uint64_t op_keep_from) override;
  void SnapshotWritten(uint64_t op) override { snapshot_op_.store(op, std::memory_order_release); }
  // Any thread: the op of this replica's newest snapshot written since it started (0: none).
  uint64_t snapshot_op() const { return snapshot_op_.load(std::memory_order_acquire); }
  // The stream's first and last ops now, asked of JetStream (first = last + 1 when empty).
  [[nodiscard]] Status StreamBounds(uint64_t* first, uint64_t* last) const;
  // Drops every entry with op <= `op` from the stream (JetStream purge up to a sequence).
  [[nodiscard]] Status TrimThrough(uint64_t op);

  // The entries Recover published again from the local copy (0 without one).
  uint64_t restored_entries() const { return restored_entries_; }

  std::string_view name() const override { return "jetstream"; }
  uint64_t bytes_written() const override { return bytes_written_.load(std::memory_order_relaxed); }
  uint64_t sync_count() const override { return sync_count_.load(std::memory_order_relaxed); }

 private:
  static void OnMessage(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  static void OnFollowComplete(void* closure);
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure);
  void Deliver(natsMsg* msg);
  void Acked(natsMsg* msg, jsPubAck* ack, jsPubAckErr* error);
  [[nodiscard]] Status Follow(uint64_t from_op);
  [[nodiscard]] Status RestoreTail(uint64_t last_op);

  NatsConnection* const nats_;
  const JetStreamLogOptions options_;
  const std::string stream_;
  const std::string subject_;

  // Following.
  natsSubscription* subscription_ = nullptr;
  std::mutex follow_mutex_;
  std::condition_variable follow_cv_;
  std::deque<FollowedEntry> followed_;  // guarded by follow_mutex_
  uint64_t op_delivered_ = 0;           // guarded: the last op queued
  bool follow_stopping_ = false;        // guarded
  bool follow_completed_ = false;       // guarded: nats.c calls OnMessage no more
  std::function<void()> followed_callback_;
  uint64_t op_applied_ = 0;  // engine thread
  std::string last_message_id_;

  // Leading.
  uint64_t term_ = 0;
  jsCtx* publisher_ = nullptr;  // with the ack handler
  std::vector<std::byte> message_;
  std::unique_ptr<EntryCompressor> compressor_;  // if options_.compress_entries
  std::unique_ptr<LocalCopy> copy_;              // if options_.local_copy_dir
  uint64_t restored_entries_ = 0;
  std::string previous_id_;    // sync thread: the id of the entry before the next
  bool first_of_term_ = true;  // sync thread
  std::mutex ack_mutex_;
  std::condition_variable ack_cv_;
  uint64_t published_ = 0;  // guarded by ack_mutex_: entries published (the sync thread's)
  uint64_t acked_ = 0;      // guarded: acks that came back as expected
  Status ack_failure_;      // guarded: the first ack that did not
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> sync_count_{0};
  std::atomic<uint64_t> snapshot_op_{0};
};

}  // namespace eleven::cluster
