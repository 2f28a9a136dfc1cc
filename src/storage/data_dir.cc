#include "storage/data_dir.h"

#include <cstring>

#include "base/assert.h"
#include "base/hash.h"

namespace eleven {
namespace {

// The identity file is tiny; anything larger than this is not one.
constexpr uint64_t kIdentitySizeBytesMax = 4096;

uint64_t IdentityChecksum(const DataDirIdentity& identity) {
  constexpr size_t kChecksumFieldSizeBytes = sizeof(identity.checksum);
  return Checksum64(reinterpret_cast<const std::byte*>(&identity) + kChecksumFieldSizeBytes,
                    sizeof(identity) - kChecksumFieldSizeBytes);
}

std::string ParentDir(const std::string& path) {
  size_t slash = path.find_last_not_of('/') == std::string::npos
                     ? std::string::npos
                     : path.rfind('/', path.find_last_not_of('/'));
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status CheckIdentity(const std::string& file_path, const std::vector<std::byte>& data,
                     DataDirIdentity* identity) {
  if (data.size() != sizeof(DataDirIdentity)) {
    return Status::Corruption("identity file " + file_path + " has " + std::to_string(data.size()) +
                              " bytes, expected " + std::to_string(sizeof(DataDirIdentity)));
  }
  std::memcpy(identity, data.data(), sizeof(*identity));
  if (identity->magic != kDataDirMagic || identity->checksum != IdentityChecksum(*identity)) {
    return Status::Corruption("identity file " + file_path + " at offset 0: bad magic or checksum");
  }
  if (identity->version < kDataDirFormatVersionOldestRead || identity->version > kDataDirFormatVersion) {
    return Status::FailedPrecondition("data directory format version " +
                                      std::to_string(identity->version) + " in " + file_path +
                                      "; this build reads versions " +
                                      std::to_string(kDataDirFormatVersionOldestRead) + " to " +
                                      std::to_string(kDataDirFormatVersion));
  }
  return Status::Ok();
}

Status WriteIdentity(Env* env, const std::string& path, DataDirId id) {
  DataDirIdentity identity{};
  identity.magic = kDataDirMagic;
  identity.version = kDataDirFormatVersion;
  identity.id_low = id.low;
  identity.id_high = id.high;
  identity.checksum = IdentityChecksum(identity);
  return WriteFileDurably(env, path, kDataDirIdentityName,
                          ByteSpan(reinterpret_cast<const std::byte*>(&identity), sizeof(identity)));
}

}  // namespace

Status DataDir::Format(Env* env, const std::string& path, DataDirId id,
                       const std::vector<ManifestEntry>& manifest) {
  ELEVEN_ASSERT(env != nullptr && !path.empty());
  ELEVEN_ASSERT(id.low != 0 || id.high != 0);
  Status status = env->CreateDir(path);
  if (!status.ok() && status.code() != StatusCode::kAlreadyExists) return status;
  std::vector<std::string> names;
  ELEVEN_RETURN_IF_ERROR(env->GetChildren(path, &names));
  if (!names.empty()) {
    return Status::FailedPrecondition("data directory " + path + " is not empty (" +
                                      std::to_string(names.size()) +
                                      " entries, e.g. " + names.front() +
                                      "); refusing to format over it");
  }
  std::unique_ptr<FileLock> lock;
  ELEVEN_RETURN_IF_ERROR(env->LockFile(JoinPath(path, kDataDirLockName), &lock));
  // The manifest first: a crash in between leaves a directory that is not formatted (no
  // identity), never one without its shape.
  ELEVEN_RETURN_IF_ERROR(WriteManifest(env, path, manifest));
  ELEVEN_RETURN_IF_ERROR(WriteIdentity(env, path, id));
  // The directory's own entry in its parent must be durable too.
  return env->SyncDir(ParentDir(path));
}

Status DataDir::Upgrade(Env* env) {
  if (format_version_ == kDataDirFormatVersion) return Status::Ok();
  ELEVEN_RETURN_IF_ERROR(WriteIdentity(env, path_, id_));
  format_version_ = kDataDirFormatVersion;
  return Status::Ok();
}

Status DataDir::Adopt(Env* env, const std::vector<ManifestEntry>& manifest) {
  ELEVEN_ASSERT(env != nullptr && !manifest.empty());
  uint64_t size_bytes = 0;
  const Status found = env->GetFileSize(JoinPath(path_, kManifestName), &size_bytes);
  if (found.ok()) {
    return Status::FailedPrecondition("data directory " + path_ + " already has a " +
                                      kManifestName + "; its shape is recorded");
  }
  if (found.code() != StatusCode::kNotFound) return found;
  ELEVEN_RETURN_IF_ERROR(WriteManifest(env, path_, manifest));
  if (format_version_ == kDataDirFormatVersion) return Status::Ok();
  ELEVEN_RETURN_IF_ERROR(WriteIdentity(env, path_, id_));
  format_version_ = kDataDirFormatVersion;
  return Status::Ok();
}

Status DataDir::Open(Env* env, const std::string& path, std::unique_ptr<DataDir>* dir) {
  ELEVEN_ASSERT(env != nullptr && dir != nullptr);
  const std::string identity_path = JoinPath(path, kDataDirIdentityName);
  uint64_t size_bytes = 0;
  Status status = env->GetFileSize(identity_path, &size_bytes);
  if (status.code() == StatusCode::kNotFound) {
    return Status::NotFound("data directory " + path + " is missing or not formatted (no " +
                            kDataDirIdentityName + " file)");
  }
  ELEVEN_RETURN_IF_ERROR(status);
  std::unique_ptr<FileLock> lock;
  status = env->LockFile(JoinPath(path, kDataDirLockName), &lock);
  if (status.code() == StatusCode::kBusy) {
    return Status::Busy("data directory " + path + " is in use by another process");
  }
  ELEVEN_RETURN_IF_ERROR(status);
  std::vector<std::byte> data;
  ELEVEN_RETURN_IF_ERROR(ReadWholeFile(env, identity_path, kIdentitySizeBytesMax, &data));
  DataDirIdentity identity;
  ELEVEN_RETURN_IF_ERROR(CheckIdentity(identity_path, data, &identity));
  DataDirId id{identity.id_low, identity.id_high};
  ELEVEN_ASSERT(id.low != 0 || id.high != 0);
  dir->reset(new DataDir(path, id, identity.version, std::move(lock)));
  return Status::Ok();
}

}  // namespace eleven
