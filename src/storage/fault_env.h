// FaultEnv: an Env for tests that wraps another Env (usually PosixEnv over a temp dir),
// injects I/O faults and simulates power cuts.
//
// Faults (each armed separately with a FaultTrigger):
//   kShortWrite  an Append writes a random strict prefix of its data, then fails (IOError).
//   kWriteError  an Append writes nothing and fails with EIO (IOError).
//   kNoSpace     an Append writes nothing and fails with ENOSPC (NoSpace).
//   kSyncError   a WritableFile::Sync makes nothing durable and fails with EIO (IOError).
//                (WriteTrailer is not a fault point: the write faults count Append calls.)
//   kReadBitFlip a Read returns its bytes with one random bit flipped (the file is intact).
// A trigger fires on the Nth call of its kind counted from when it was armed (one-shot), or
// on each call with a probability drawn from the env's seeded RNG; either can be limited to
// paths containing a substring. The RNG is seeded by the caller, so a run replays exactly.
// A full (or nearly full) disk can also be faked for GetFreeSpace (SetFreeSpace).
//
// Power cut (PowerCut()): every file written through this env loses what was appended since
// its last successful Sync (it is truncated back to its synced length; or, in
// kKeepRandomPrefix mode, to a random length between synced and written; a file opened with
// NewOverwritingFile gets back, over the lost bytes, what they overwrote (a prepared
// segment's zeros, a recycled segment's old entries, an earlier trailer) and loses any
// growth, instead of being truncated), and a file created or
// renamed into place since the last successful SyncDir of its directory vanishes. Files that
// were not touched through this env are left alone. Simplifications (pessimistic for eleven):
// an un-dir-synced rename loses the file rather than restoring its old name, and removals are
// always durable. After a cut every file object opened before it is dead: its calls fail with
// IOError, so a writer that survives the "crash" cannot touch the disk again.
//
// Ownership and thread-safety: `base` must outlive the FaultEnv; every file it hands out must
// be destroyed before it. All methods are thread-safe (one mutex).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "storage/env.h"

namespace eleven {

enum class FaultKind : uint8_t {
  kShortWrite = 0,
  kWriteError,
  kNoSpace,
  kSyncError,
  kReadBitFlip,
};
inline constexpr int kFaultKindCount = 5;

// What a power cut keeps of the data appended to a file since its last successful Sync.
enum class PowerCutMode : uint8_t {
  kDropUnsynced = 0,  // Nothing: the file is truncated to its synced length.
  kKeepRandomPrefix,  // A random prefix of it (some pages reached the disk): torn entries.
};

struct FaultTrigger {
  uint64_t nth_call = 0;       // Fire on this call (1-based) after arming; 0 = not by count.
  double probability = 0.0;    // Else fire on each call with this probability.
  std::string path_substring;  // Only for paths containing this ("" = all paths).
};

class FaultEnv final : public Env {
 public:
  FaultEnv(Env* base, uint64_t seed);
  ~FaultEnv() override;

  // When false, Sync and SyncDir are tracked for power cuts but not passed to the base env:
  // crash tests then run at memory speed (a simulated cut does not need real durability).
  void set_forward_syncs(bool forward_syncs) { forward_syncs_ = forward_syncs; }

  // While held, every WritableFile::Sync waits before it starts (for tests of what runs
  // meanwhile); syncs_held() says how many wait now. Releasing lets them all go on.
  void HoldSyncs(bool hold);
  uint64_t syncs_held() const;

  // Makes GetFreeSpace answer `free_bytes` for every path (a full or nearly full disk);
  // nullopt asks the base env again.
  void SetFreeSpace(std::optional<uint64_t> free_bytes);

  // Arms (or re-arms, resetting its call count) fault `kind`.
  void Arm(FaultKind kind, FaultTrigger trigger);
  void Disarm(FaultKind kind);
  void DisarmAll();
  // How many times `kind` has fired since construction.
  uint64_t fired_count(FaultKind kind) const;

  // Simulates losing power: see the header comment. Returns the first error of the base env.
  [[nodiscard]] Status PowerCut(PowerCutMode mode = PowerCutMode::kDropUnsynced);

  // Env.
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override;
  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override;
  Status NewOverwritingFile(const std::string& path, uint64_t offset,
                            std::unique_ptr<WritableFile>* file) override;
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* file) override;
  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* file) override;
  Status GetFileSize(const std::string& path, uint64_t* size_bytes) override;
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status TruncateFile(const std::string& path, uint64_t size_bytes) override;
  Status CreateDir(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override;
  Status GetFreeSpace(const std::string& path, uint64_t* free_bytes) override;

 private:
  friend class FaultWritableFile;
  friend class FaultRandomAccessFile;
  friend class FaultSequentialFile;

  // What one write since the last sync of an overwriting file went over.
  struct Overwritten {
    uint64_t offset = 0;
    std::vector<std::byte> old_bytes;  // The part that was inside the file.
  };
  // What a power cut would keep of one file written through this env.
  struct FileState {
    uint64_t size_bytes = 0;         // Written up to here (the position, when overwriting).
    uint64_t synced_size_bytes = 0;  // Durable up to here.
    bool entry_synced = true;  // False while its directory entry is not yet durable.
    // Opened by NewOverwritingFile: a cut puts old bytes back instead of truncating.
    bool overwriting = false;
    uint64_t synced_length_bytes = 0;  // Overwriting: the file's length at the last sync.
    uint64_t written_end_bytes = 0;    // Overwriting: the furthest write since (trailers too).
    std::vector<Overwritten> overwritten;  // Overwriting: since the last sync, in write order.
  };

  // All called with mutex_ held.
  bool ShouldFire(FaultKind kind, const std::string& path);
  uint64_t RandomBelow(uint64_t bound);
  Status CheckAlive(uint64_t generation, const std::string& path) const;
  Status SaveOverwritten(const std::string& path, uint64_t offset, uint64_t size_bytes,
                         FileState* state);
  Status RestoreOverwritten(const std::string& path, const FileState& state, uint64_t keep_to);

  // Called by the file wrappers.
  Status FileAppend(uint64_t generation, WritableFile* base_file, ByteSpan data);
  Status FileWriteTrailer(uint64_t generation, WritableFile* base_file, ByteSpan data);
  Status FileSync(uint64_t generation, WritableFile* base_file);
  Status FileRead(uint64_t generation, const std::string& path, std::byte* scratch,
                  size_t read_bytes);

  Env* const base_;
  mutable std::mutex mutex_;
  std::mt19937_64 rng_;
  bool forward_syncs_ = true;
  uint64_t generation_ = 0;  // Bumped by each PowerCut; files from older generations are dead.
  bool armed_[kFaultKindCount] = {};
  FaultTrigger triggers_[kFaultKindCount];
  uint64_t call_counts_[kFaultKindCount] = {};
  uint64_t fired_counts_[kFaultKindCount] = {};
  std::map<std::string, FileState> files_;
  std::optional<uint64_t> free_space_bytes_;  // SetFreeSpace
  // HoldSyncs: apart from mutex_, which a held sync must not keep.
  mutable std::mutex hold_mutex_;
  std::condition_variable hold_cv_;
  bool hold_syncs_ = false;
  uint64_t syncs_held_ = 0;
};

}  // namespace eleven
