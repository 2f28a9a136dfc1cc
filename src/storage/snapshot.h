// Snapshots: a checkpoint of the engine's state at an op, as opaque bytes given by the
// caller, in `snapshot-<op, 20 digits>.snap` files (grammar: docs/storage-format.md).
//
// A file is a 64-byte SnapshotHeader followed by exactly `body_size_bytes` of body. It is
// written to `<name>.tmp`, fdatasynced, renamed into place and the directory fsynced, so a
// snapshot either exists whole under its name or not at all. After writing, the file is read
// back and verified before older snapshots are pruned: the kSnapshotKeepCount newest stay.
//
// Recovery: LoadNewestSnapshot tries snapshots newest first and falls back to an older one
// when the newest fails its checks (reported in SnapshotLoad::skipped). For that fallback to
// work, the journal must still hold the entries after the OLDEST kept snapshot: remove
// journal segments only up to SnapshotWriteResult::journal_op_keep_from.
//
// Thread-safety: the functions are stateless; they may run on any thread, but two of them
// must not write to the same directory at the same time.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/env.h"

namespace eleven {

inline constexpr uint32_t kSnapshotMagic = 0x4E534C45;  // "ELSN" as little-endian bytes.
inline constexpr uint16_t kSnapshotFormatVersion = 1;
inline constexpr uint64_t kSnapshotBodySizeBytesMax = uint64_t{64} << 30;
inline constexpr size_t kSnapshotKeepCount = 2;
// Snapshot bodies are read and checksummed in pieces of this size.
inline constexpr uint64_t kSnapshotReadChunkSizeBytes = uint64_t{4} << 20;

struct SnapshotHeader {
  uint64_t header_checksum;  // Checksum64 of bytes [8, 64) of this header.
  uint32_t magic;            // kSnapshotMagic.
  uint16_t version;          // kSnapshotFormatVersion.
  uint16_t reserved_flags;   // 0.
  uint64_t op;               // The state includes every entry up to and including op.
  uint64_t timestamp_us;     // The timestamp of entry `op`.
  uint64_t body_size_bytes;  // <= kSnapshotBodySizeBytesMax.
  uint64_t body_checksum;    // Checksum64 (XXH3-64) of the whole body.
  uint64_t reserved[2];      // 0.
};
static_assert(sizeof(SnapshotHeader) == 64);

struct SnapshotFile {
  uint64_t op = 0;
  std::string path;
};

// "snapshot-00000000000000000042.snap".
std::string SnapshotName(uint64_t op);

// The snapshots in `dir`, newest (highest op) first. Temp files are not listed.
[[nodiscard]] Status ListSnapshots(Env* env, const std::string& dir,
                                   std::vector<SnapshotFile>* snapshots);

struct SnapshotWriteResult {
  std::string path;
  uint64_t size_bytes = 0;
  uint64_t removed_count = 0;  // Older snapshots pruned.
  // The op from which the journal must be kept so that every kept snapshot can recover.
  uint64_t journal_op_keep_from = 0;
};

// How a snapshot file is written: at once, or in slices, each written back to the device
// (WritableFile::WriteBack) before the next, at a bounded rate, so that a journal sharing the
// device never waits behind the whole snapshot's writeback.
struct SnapshotWriteOptions {
  uint64_t slice_size_bytes = 0;     // 0: one write, one sync
  uint64_t bytes_per_second_max = 0;  // 0: as fast as the device takes the slices
  // Checked after each slice: once true, writing stops with Unavailable (the temp file is
  // removed).
  const std::atomic<bool>* cancel = nullptr;
};

// Writes a snapshot at `op` whose body is the concatenation of `chunks` (each chunk written
// as is: no second copy of the state; pass large chunks). The chunks must stay unchanged
// until this returns. A failed or cancelled write removes its temp file before returning.
[[nodiscard]] Status WriteSnapshot(Env* env, const std::string& dir, uint64_t op,
                                   uint64_t timestamp_us, std::span<const ByteSpan> chunks,
                                   SnapshotWriteResult* result,
                                   const SnapshotWriteOptions& options = {});

// Removes every `snapshot-<op>.snap.tmp` in `dir` (a write a crash cut short): at start-up,
// before any snapshot is written. `removed_count` may be null.
[[nodiscard]] Status RemoveSnapshotTempFiles(Env* env, const std::string& dir, uint64_t* removed_count);

struct Snapshot {
  uint64_t op = 0;
  uint64_t timestamp_us = 0;
  std::string path;
  std::vector<std::byte> body;
};

// Reads and verifies one snapshot file (header, size, body checksum). Corruption names the
// file and the byte offset or range that is bad. `body` may be null to only verify.
[[nodiscard]] Status ReadSnapshot(Env* env, const std::string& path, SnapshotHeader* header,
                                  std::vector<std::byte>* body);

struct SnapshotLoad {
  bool found = false;  // False: no snapshot at all (a fresh data directory).
  Snapshot snapshot;
  std::vector<std::string> skipped;  // Newer snapshots that failed: "path: error".
};

// Loads the newest snapshot that verifies. Corruption if snapshots exist but none verifies.
[[nodiscard]] Status LoadNewestSnapshot(Env* env, const std::string& dir, SnapshotLoad* load);

}  // namespace eleven
