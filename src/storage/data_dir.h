// DataDir: the directory that holds one replica's durable state, and the exclusive right to
// use it. Layout (docs/storage-format.md):
//   ELEVEN                                 identity: format version and the 128-bit id
//   LOCK                                   flock'ed while a process has the directory open
//   journal-<first op, 20 digits>.log      journal segments (journal.h)
//   snapshot-<op, 20 digits>.snap          snapshots (snapshot.h)
//
// Format creates and identifies a new directory; Open checks the identity and holds an
// exclusive flock on LOCK for the lifetime of the DataDir, so a second opener, in this
// process or another, gets Status::Busy. The journal and snapshot functions take path().
//
// Ownership and thread-safety: the DataDir owns the lock; destroying it releases the lock.
// Its accessors are const and safe from any thread. The Env must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "storage/env.h"
#include "storage/manifest.h"

namespace eleven {

inline constexpr uint64_t kDataDirMagic = 0x01004E4556454C45ull;  // "ELEVEN\0\x01" as LE bytes.
// Version 2: the journal may hold version-2 entries (storage-format.md), which a version-1
// build would misread; so a directory this build writes to says 2, and older builds refuse it.
// Version 3: the directory has a MANIFEST (storage/manifest.h) recording its shape; a build
// that does not know it would replay the journal into whatever shape it was given.
inline constexpr uint16_t kDataDirFormatVersion = 3;
// The first version whose directories always have a MANIFEST.
inline constexpr uint16_t kDataDirFormatVersionManifest = 3;
inline constexpr uint16_t kDataDirFormatVersionOldestRead = 1;
inline constexpr char kDataDirIdentityName[] = "ELEVEN";
inline constexpr char kDataDirLockName[] = "LOCK";

// Who this data directory belongs to (a cluster or replica id chosen by the caller).
struct DataDirId {
  uint64_t low = 0;
  uint64_t high = 0;
  friend bool operator==(const DataDirId&, const DataDirId&) = default;
};

// The ELEVEN file, 64 bytes, little-endian.
struct DataDirIdentity {
  uint64_t checksum;  // Checksum64 of bytes [8, 64).
  uint64_t magic;     // kDataDirMagic.
  uint16_t version;   // kDataDirFormatVersion.
  uint16_t reserved_flags;
  uint32_t reserved_a;
  uint64_t id_low;
  uint64_t id_high;
  uint64_t reserved_b[3];
};
static_assert(sizeof(DataDirIdentity) == 64);

class DataDir {
 public:
  // Creates `path` (or uses it if it exists and is empty) and writes its manifest, then its
  // identity, durably: a directory with an identity has its manifest. FailedPrecondition if
  // `path` exists and holds anything. `id` must not be all zero.
  [[nodiscard]] static Status Format(Env* env, const std::string& path, DataDirId id,
                                     const std::vector<ManifestEntry>& manifest);

  // Locks and identifies a formatted directory. Busy if another opener holds it; NotFound if
  // it is missing or not formatted; Corruption if its identity is damaged.
  [[nodiscard]] static Status Open(Env* env, const std::string& path, std::unique_ptr<DataDir>* dir);

  // Rewrites the identity of an older-version directory (durably: temp file, rename) as
  // kDataDirFormatVersion, before anything of the new version is written into it. A no-op
  // for a current one.
  [[nodiscard]] Status Upgrade(Env* env);

  // Gives a directory formatted before manifests existed (version < 3, no MANIFEST) its
  // manifest, then upgrades its identity (as Upgrade). FailedPrecondition if it has one.
  [[nodiscard]] Status Adopt(Env* env, const std::vector<ManifestEntry>& manifest);

  const std::string& path() const { return path_; }
  DataDirId id() const { return id_; }
  uint16_t format_version() const { return format_version_; }

 private:
  DataDir(std::string path, DataDirId id, uint16_t version, std::unique_ptr<FileLock> lock)
      : path_(std::move(path)), id_(id), format_version_(version), lock_(std::move(lock)) {}

  const std::string path_;
  const DataDirId id_;
  uint16_t format_version_;
  const std::unique_ptr<FileLock> lock_;
};

}  // namespace eleven
