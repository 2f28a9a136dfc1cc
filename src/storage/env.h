// Env: every file-system operation of the storage layer goes through this interface, so tests
// can swap the real file system (PosixEnv) for one that injects faults (FaultEnv, see
// fault_env.h) or simulates a power cut.
//
// Contract
// - Errors are values: every call returns a Status naming the operation and the path, e.g.
//   "IOError: fdatasync /d/journal-...log: Input/output error (EIO)": the path, the errno's
//   text and its name. ENOSPC (and EDQUOT) become
//   Status::NoSpace; a missing file is Status::NotFound; everything else is Status::IOError.
// - Ownership: files and locks are returned as std::unique_ptr; the caller owns them and
//   closes a file (or releases a lock) by destroying it. A file never outlives its Env: the
//   Env must stay alive while any object it created is in use.
// - Thread-safety: an Env may be used from several threads at once. A single file object is
//   not thread-safe; use it from one thread at a time.
// - Durability: data appended to a WritableFile is durable only after Sync() returns ok
//   (fdatasync). A new, renamed or removed directory entry is durable only after SyncDir() on
//   its directory returns ok. Nothing else promises durability.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace eleven {

using ByteSpan = std::span<const std::byte>;

// A file opened for writing at a position that each write moves on: the end of the file
// (NewWritableFile, NewAppendableFile) or a given offset of an existing file
// (NewOverwritingFile). Not thread-safe.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the file's position (looping over partial writes and EINTR). On
  // failure a prefix of `data` may have reached the file.
  [[nodiscard]] virtual Status Append(ByteSpan data) = 0;
  // Writes `data` at the file's position without moving it, so the next Append goes over
  // it: the journal marks the end of its entries in a file it writes over. On failure a
  // prefix of `data` may have reached the file. Only for files from NewOverwritingFile.
  [[nodiscard]] virtual Status WriteTrailer(ByteSpan data) = 0;
  // fdatasync: makes everything written so far durable.
  [[nodiscard]] virtual Status Sync() = 0;
  // Writes back what was written so far to the device and waits for it, without making
  // anything durable (no metadata, no device cache flush: sync_file_range). A large writer
  // calls it slice by slice so that its dirty pages never pile up into one long flush that
  // a small, urgent sync (the journal's) would queue behind.
  [[nodiscard]] virtual Status WriteBack() = 0;
  // Closes the file; further calls fail. The destructor closes too (ignoring errors), so
  // call Close() when its error matters.
  [[nodiscard]] virtual Status Close() = 0;
  virtual const std::string& path() const = 0;
};

// A file read at explicit offsets. Thread-compatible: concurrent Read calls are safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `size_bytes` at `offset` into `scratch`; `*read_bytes` < size_bytes only at
  // end of file.
  [[nodiscard]] virtual Status Read(uint64_t offset, size_t size_bytes, std::byte* scratch,
                                    size_t* read_bytes) const = 0;
  virtual const std::string& path() const = 0;
};

// A file read front to back. Not thread-safe.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to `size_bytes` into `scratch`; `*read_bytes` < size_bytes only at end of file.
  [[nodiscard]] virtual Status Read(size_t size_bytes, std::byte* scratch, size_t* read_bytes) = 0;
  virtual const std::string& path() const = 0;
};

// An exclusive advisory lock (flock) on a file, held until this object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
  virtual const std::string& path() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide PosixEnv. Never destroyed.
  static Env* Default();

  // Creates `path`, or truncates it to 0 bytes if it exists, and opens it for appending.
  [[nodiscard]] virtual Status NewWritableFile(const std::string& path,
                                               std::unique_ptr<WritableFile>* file) = 0;
  // Opens `path` for appending at its current end, creating it if missing.
  [[nodiscard]] virtual Status NewAppendableFile(const std::string& path,
                                                 std::unique_ptr<WritableFile>* file) = 0;
  // Opens the existing `path` for writing over its bytes from `offset` on (not truncated):
  // writes inside the file's length change no metadata, so their fdatasync is cheaper. The
  // journal writes its prepared (zero-filled) and recycled segments this way.
  [[nodiscard]] virtual Status NewOverwritingFile(const std::string& path, uint64_t offset,
                                                  std::unique_ptr<WritableFile>* file) = 0;
  [[nodiscard]] virtual Status NewRandomAccessFile(const std::string& path,
                                                   std::unique_ptr<RandomAccessFile>* file) = 0;
  [[nodiscard]] virtual Status NewSequentialFile(const std::string& path,
                                                 std::unique_ptr<SequentialFile>* file) = 0;

  // NotFound if `path` does not exist.
  [[nodiscard]] virtual Status GetFileSize(const std::string& path, uint64_t* size_bytes) = 0;
  // The names (not paths) of the entries of `dir`, without "." and "..", in no order.
  [[nodiscard]] virtual Status GetChildren(const std::string& dir,
                                           std::vector<std::string>* names) = 0;
  [[nodiscard]] virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)); durable after SyncDir.
  [[nodiscard]] virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Shrinks (or extends with zeros) `path` to `size_bytes` and fdatasyncs it: the new length
  // is durable when this returns ok.
  [[nodiscard]] virtual Status TruncateFile(const std::string& path, uint64_t size_bytes) = 0;
  // Creates a directory; AlreadyExists if it exists.
  [[nodiscard]] virtual Status CreateDir(const std::string& path) = 0;
  // fsync on the directory: makes its entries (creations, renames, removals) durable.
  [[nodiscard]] virtual Status SyncDir(const std::string& path) = 0;
  // Creates `path` if missing and takes an exclusive flock on it, without waiting. Busy if
  // another open file description (this process or another) holds it.
  [[nodiscard]] virtual Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) = 0;
  // The bytes an unprivileged writer may still allocate on the file system holding `path`
  // (statvfs: f_bavail * f_frsize).
  [[nodiscard]] virtual Status GetFreeSpace(const std::string& path, uint64_t* free_bytes) = 0;
};

// Writes `data` to `path` so that, after a crash, `path` holds either its old content or all
// of `data`: write to `path`.tmp, Sync, rename over `path`, SyncDir of `dir`.
[[nodiscard]] Status WriteFileDurably(Env* env, const std::string& dir, const std::string& name,
                                      ByteSpan data);

// Reads the whole of `path` (at most `size_bytes_max`) into `*data`.
[[nodiscard]] Status ReadWholeFile(Env* env, const std::string& path, uint64_t size_bytes_max,
                                   std::vector<std::byte>* data);

// "dir/name" (no normalisation).
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace eleven
