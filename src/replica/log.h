// The log a replica writes its entries to and recovers from: the one seam between the
// replica (engine, staging, snapshots) and where its entries are made durable. Two
// implementations: the local journal (journal_log.h: one node, fdatasync before a reply)
// and a NATS JetStream stream (cluster/jetstream_log.h: a shard's replicated log,
// docs/cluster.md). The engine, snapshots, recovery and the server do not know which one
// they have.
//
// Threads: Recover runs on the opening thread, before anything else; Append, Sync and
// Release then run on the replica's sync thread only. The figures may be read by any thread.
//
// Durability: Sync returns ok only once every entry appended before it is durable in the
// log's sense (the journal: on this node's disk; JetStream: acknowledged by the stream with
// the sequence the entry was meant to have). Any error is final for this Log: the replica
// fails, and nothing appended after the last successful Sync is ever released.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "engine/engine.h"
#include "replica/replay.h"

namespace eleven::replica {

// One entry as the replica hands it to its log: its op, its log time, and its commands in
// the packed form (wire/packed.h).
struct LogEntry {
  uint64_t op = 0;
  uint64_t timestamp_us = 0;
  uint32_t command_count = 0;
  ByteSpan packed;
};

class Log {
 public:
  virtual ~Log() = default;

  // Applies every entry of the log after engine->last_op() to `engine`, in op order, and
  // readies the log to append the entry after the last one. Corruption (naming where) if an
  // entry is damaged or the log does not continue from the engine's op.
  [[nodiscard]] virtual Status Recover(engine::Engine* engine, const RecoveryProgress& progress,
                                       ReplayReport* report) = 0;
  // Sync thread. Appends the next entry (op = the last one's + 1). It may be buffered or in
  // flight until the next Sync.
  [[nodiscard]] virtual Status Append(const LogEntry& entry) = 0;
  // Sync thread. Returns once every entry appended so far is durable, or the error that
  // stops this log for good.
  [[nodiscard]] virtual Status Sync() = 0;
  // Sync thread, between syncs. Entries with op < `op_keep_from` are no longer needed by this
  // replica (a snapshot covers them): the log may drop them.
  [[nodiscard]] virtual Status Release(uint64_t op_keep_from) = 0;

  // Engine thread: a snapshot of the state at `op` was written and checked in the data
  // directory (entries up to `op` are no longer needed by this replica). After Release on
  // the sync thread for the journal, which removes files; a shared log may tell the others.
  virtual void SnapshotWritten(uint64_t op) { (void)op; }

  virtual std::string_view name() const = 0;   // "journal", "jetstream"
  virtual uint64_t bytes_written() const = 0;  // entry bytes appended since Recover
  virtual uint64_t sync_count() const = 0;     // Syncs done since Recover
};

}  // namespace eleven::replica
