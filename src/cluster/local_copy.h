// The leader's own fsynced copy of the entries it publishes (`[cluster] local_fsync`;
// docs/cluster.md, "What an ack means" has the grammar and the contract).
//
// nats-server 2.9 acknowledges an entry once a quorum holds it, before any node fsyncs it,
// so a crash of every nats-server (or a power cut of a quorum) within its sync interval can
// lose acknowledged entries. With a local copy, the leader also appends each entry to a
// file in its data directory and a reply waits for that file's fdatasync as well; a node
// that starts and finds in its copy entries that continue the stream past its end publishes
// them again (RestoreTail), fenced by the stream like any leader's write.
//
// Files: <dir>/<first op, 20 digits>.copy, each a run of records (below) written in op order
// by one term; a new file every `segment_ms`, files last written more than `keep_ms` ago
// removed. Threads: Append, Sync on the replica's sync thread; ReadAll on the opening one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/env.h"

namespace eleven::cluster {

struct LocalCopyOptions {
  int64_t segment_ms = 60'000;  // a new file after this long
  // Files last written longer ago than this go: past nats-server 2.9's own syncs (its
  // stream store every 60 s, its Raft log every 5 min).
  int64_t keep_ms = 360'000;
};

// One copied entry: the message exactly as published, its id, and the id it expected before
// it (Nats-Expected-Last-Msg-Id; for a term's first entry the stream's last id then).
struct CopiedEntry {
  uint64_t op = 0;
  std::string id;
  std::string previous_id;
  std::vector<std::byte> message;
};

class LocalCopy {
 public:
  // Creates `dir` if it is missing. Files already there stay until they are too old.
  [[nodiscard]] static Status Open(Env* env, const std::string& dir, const LocalCopyOptions& options,
                                   std::unique_ptr<LocalCopy>* copy);
  ~LocalCopy();

  // Appends one record (written, not yet durable).
  [[nodiscard]] Status Append(uint64_t op, std::string_view id, std::string_view previous_id, ByteSpan message);
  // fdatasync of everything appended.
  [[nodiscard]] Status Sync();

  // Every whole record in `dir`'s files, in file order; a file's records end at the first
  // that is cut short or fails its checksum (an append that was never synced, so never
  // acknowledged). An empty vector if `dir` does not exist.
  [[nodiscard]] static Status ReadAll(Env* env, const std::string& dir, std::vector<CopiedEntry>* entries);
  // Removes every copy file in `dir`.
  [[nodiscard]] static Status RemoveAll(Env* env, const std::string& dir);

  uint64_t bytes_written() const { return bytes_written_; }

 private:
  LocalCopy(Env* env, std::string dir, const LocalCopyOptions& options)
      : env_(env), dir_(std::move(dir)), options_(options) {}
  [[nodiscard]] Status StartFile(uint64_t op);
  [[nodiscard]] Status RemoveOld(int64_t now_ms);

  Env* const env_;
  const std::string dir_;
  const LocalCopyOptions options_;
  std::unique_ptr<WritableFile> file_;
  int64_t file_started_ms_ = 0;
  std::vector<std::pair<std::string, int64_t>> closed_;  // earlier files, last written at (ms)
  std::vector<std::byte> record_;
  uint64_t bytes_written_ = 0;
};

}  // namespace eleven::cluster
