#include "storage/snapshot.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdio>
#include <optional>
#include <cstring>
#include <string_view>

#include "base/assert.h"
#include "base/hash.h"

namespace eleven {
namespace {

constexpr std::string_view kSnapshotPrefix = "snapshot-";
constexpr std::string_view kSnapshotSuffix = ".snap";
constexpr std::string_view kTempSuffix = ".snap.tmp";
constexpr size_t kOpDigitCount = 20;
constexpr uint64_t kHeaderSizeBytes = sizeof(SnapshotHeader);

// XXH3-64 over a sequence of pieces; equal to Checksum64 of their concatenation.
class StreamChecksum {
 public:
  StreamChecksum() { XXH3_64bits_reset(&state_); }
  void Update(ByteSpan data) { XXH3_64bits_update(&state_, data.data(), data.size()); }
  uint64_t Finish() const { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

uint64_t HeaderChecksum(const SnapshotHeader& header) {
  constexpr size_t kChecksumFieldSizeBytes = sizeof(header.header_checksum);
  return Checksum64(reinterpret_cast<const std::byte*>(&header) + kChecksumFieldSizeBytes,
                    sizeof(header) - kChecksumFieldSizeBytes);
}

bool HeaderValid(const SnapshotHeader& header) {
  return header.magic == kSnapshotMagic && header.version == kSnapshotFormatVersion &&
         header.reserved_flags == 0 && header.reserved[0] == 0 && header.reserved[1] == 0 &&
         header.body_size_bytes <= kSnapshotBodySizeBytesMax &&
         header.header_checksum == HeaderChecksum(header);
}

std::optional<uint64_t> ParseSnapshotName(const std::string& name) {
  if (name.size() != kSnapshotPrefix.size() + kOpDigitCount + kSnapshotSuffix.size()) return {};
  if (!name.starts_with(kSnapshotPrefix) || !name.ends_with(kSnapshotSuffix)) return {};
  uint64_t op = 0;
  for (size_t i = 0; i < kOpDigitCount; i++) {
    char digit = name[kSnapshotPrefix.size() + i];
    if (digit < '0' || digit > '9') return {};
    uint64_t value = static_cast<uint64_t>(digit - '0');
    if (op > (UINT64_MAX - value) / 10) return {};
    op = op * 10 + value;
  }
  return op;
}

Status WriteSnapshotFile(Env* env, const std::string& temp_path, const SnapshotHeader& header,
                         std::span<const ByteSpan> chunks, const SnapshotWriteOptions& options) {
  std::unique_ptr<WritableFile> file;
  ELEVEN_RETURN_IF_ERROR(env->NewWritableFile(temp_path, &file));
  ELEVEN_RETURN_IF_ERROR(file->Append(ByteSpan(reinterpret_cast<const std::byte*>(&header),
                                               sizeof(header))));
  const uint64_t slice_size_bytes = options.slice_size_bytes == 0 ? ~uint64_t{0} : options.slice_size_bytes;
  const auto started = std::chrono::steady_clock::now();
  uint64_t written_bytes = 0;
  uint64_t slice_bytes = 0;  // written since the last write-back
  for (ByteSpan chunk : chunks) {
    while (!chunk.empty()) {
      const ByteSpan piece = chunk.first(std::min<uint64_t>(chunk.size(), slice_size_bytes - slice_bytes));
      ELEVEN_RETURN_IF_ERROR(file->Append(piece));
      chunk = chunk.subspan(piece.size());
      written_bytes += piece.size();
      slice_bytes += piece.size();
      if (slice_bytes < slice_size_bytes) continue;
      slice_bytes = 0;
      ELEVEN_RETURN_IF_ERROR(file->WriteBack());
      if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
        return Status::Unavailable("snapshot " + temp_path + ": writing cancelled");
      }
      if (options.bytes_per_second_max > 0) {
        std::this_thread::sleep_until(started + std::chrono::microseconds(
                                                    written_bytes * 1'000'000 / options.bytes_per_second_max));
      }
    }
  }
  ELEVEN_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

// Keeps the kSnapshotKeepCount newest snapshots; removes the rest and leftover temp files.
Status PruneSnapshots(Env* env, const std::string& dir, SnapshotWriteResult* result) {
  std::vector<SnapshotFile> snapshots;
  ELEVEN_RETURN_IF_ERROR(ListSnapshots(env, dir, &snapshots));
  ELEVEN_ASSERT(!snapshots.empty());
  for (size_t i = kSnapshotKeepCount; i < snapshots.size(); i++) {
    ELEVEN_RETURN_IF_ERROR(env->RemoveFile(snapshots[i].path));
    result->removed_count++;
  }
  ELEVEN_RETURN_IF_ERROR(RemoveSnapshotTempFiles(env, dir, nullptr));
  const size_t kept_count = std::min(snapshots.size(), kSnapshotKeepCount);
  result->journal_op_keep_from = snapshots[kept_count - 1].op + 1;
  return env->SyncDir(dir);
}

}  // namespace

Status RemoveSnapshotTempFiles(Env* env, const std::string& dir, uint64_t* removed_count) {
  std::vector<std::string> names;
  ELEVEN_RETURN_IF_ERROR(env->GetChildren(dir, &names));
  uint64_t removed = 0;
  for (const std::string& name : names) {
    if (name.starts_with(kSnapshotPrefix) && name.ends_with(kTempSuffix)) {
      ELEVEN_RETURN_IF_ERROR(env->RemoveFile(JoinPath(dir, name)));
      removed++;
    }
  }
  if (removed_count != nullptr) *removed_count = removed;
  return Status::Ok();
}

std::string SnapshotName(uint64_t op) {
  char name[64];
  int length = std::snprintf(name, sizeof(name), "snapshot-%020llu.snap",
                             static_cast<unsigned long long>(op));
  ELEVEN_ASSERT(length == static_cast<int>(kSnapshotPrefix.size() + kOpDigitCount +
                                           kSnapshotSuffix.size()));
  return std::string(name, static_cast<size_t>(length));
}

Status ListSnapshots(Env* env, const std::string& dir, std::vector<SnapshotFile>* snapshots) {
  snapshots->clear();
  std::vector<std::string> names;
  ELEVEN_RETURN_IF_ERROR(env->GetChildren(dir, &names));
  for (const std::string& name : names) {
    std::optional<uint64_t> op = ParseSnapshotName(name);
    if (op) snapshots->push_back({*op, JoinPath(dir, name)});
  }
  std::sort(snapshots->begin(), snapshots->end(),
            [](const SnapshotFile& a, const SnapshotFile& b) { return a.op > b.op; });
  return Status::Ok();
}

Status WriteSnapshot(Env* env, const std::string& dir, uint64_t op, uint64_t timestamp_us,
                     std::span<const ByteSpan> chunks, SnapshotWriteResult* result,
                     const SnapshotWriteOptions& options) {
  ELEVEN_ASSERT(result != nullptr);
  *result = SnapshotWriteResult{};
  SnapshotHeader header{};
  header.magic = kSnapshotMagic;
  header.version = kSnapshotFormatVersion;
  header.op = op;
  header.timestamp_us = timestamp_us;
  StreamChecksum checksum;
  for (ByteSpan chunk : chunks) {
    checksum.Update(chunk);
    header.body_size_bytes += chunk.size();
  }
  ELEVEN_ASSERT(header.body_size_bytes <= kSnapshotBodySizeBytesMax);
  header.body_checksum = checksum.Finish();
  header.header_checksum = HeaderChecksum(header);
  ELEVEN_ASSERT(HeaderValid(header));

  const std::string path = JoinPath(dir, SnapshotName(op));
  const std::string temp_path = path + ".tmp";
  Status written = WriteSnapshotFile(env, temp_path, header, chunks, options);
  if (written.ok()) written = env->RenameFile(temp_path, path);
  if (!written.ok()) {
    // A failed (or cancelled) write leaves no temp file: on a small disk it is what fills it.
    const Status removed = env->RemoveFile(temp_path);
    if (!removed.ok() && removed.code() != StatusCode::kNotFound) {
      return Status::IOError(written.ToString() + "; and then removing the temp file: " + removed.ToString());
    }
    return written;
  }
  ELEVEN_RETURN_IF_ERROR(env->SyncDir(dir));
  // Read it back before older snapshots go: never prune down to a snapshot that is bad.
  SnapshotHeader read_back;
  ELEVEN_RETURN_IF_ERROR(ReadSnapshot(env, path, &read_back, nullptr));
  ELEVEN_ASSERT(read_back.body_checksum == header.body_checksum && read_back.op == op);
  result->path = path;
  result->size_bytes = kHeaderSizeBytes + header.body_size_bytes;
  return PruneSnapshots(env, dir, result);
}

Status ReadSnapshot(Env* env, const std::string& path, SnapshotHeader* header,
                    std::vector<std::byte>* body) {
  uint64_t file_size_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(env->GetFileSize(path, &file_size_bytes));
  std::unique_ptr<SequentialFile> file;
  ELEVEN_RETURN_IF_ERROR(env->NewSequentialFile(path, &file));
  size_t read_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(file->Read(sizeof(*header), reinterpret_cast<std::byte*>(header), &read_bytes));
  if (read_bytes != sizeof(*header) || !HeaderValid(*header)) {
    return Status::Corruption("snapshot " + path + " at offset 0: bad header");
  }
  if (file_size_bytes != kHeaderSizeBytes + header->body_size_bytes) {
    return Status::Corruption("snapshot " + path + ": " + std::to_string(file_size_bytes) +
                              " bytes, its header says " +
                              std::to_string(kHeaderSizeBytes + header->body_size_bytes));
  }
  std::vector<std::byte> scratch;
  if (body != nullptr) {
    body->resize(header->body_size_bytes);
  } else {
    scratch.resize(std::min(header->body_size_bytes, kSnapshotReadChunkSizeBytes));
  }
  StreamChecksum checksum;
  // Bounded by body_size_bytes / kSnapshotReadChunkSizeBytes reads.
  for (uint64_t done_bytes = 0; done_bytes < header->body_size_bytes;) {
    const uint64_t size_bytes = std::min(kSnapshotReadChunkSizeBytes, header->body_size_bytes - done_bytes);
    std::byte* out = body != nullptr ? body->data() + done_bytes : scratch.data();
    ELEVEN_RETURN_IF_ERROR(file->Read(size_bytes, out, &read_bytes));
    if (read_bytes != size_bytes) {
      return Status::Corruption("snapshot " + path + " at offset " +
                                std::to_string(kHeaderSizeBytes + done_bytes) + ": short body");
    }
    checksum.Update(ByteSpan(out, size_bytes));
    done_bytes += size_bytes;
  }
  // Verified right after reading back: a bad body never reaches the caller as good.
  if (checksum.Finish() != header->body_checksum) {
    if (body != nullptr) body->clear();
    return Status::Corruption("snapshot " + path + " at offsets " + std::to_string(kHeaderSizeBytes) +
                              ".." + std::to_string(file_size_bytes) + ": body checksum mismatch");
  }
  return Status::Ok();
}

Status LoadNewestSnapshot(Env* env, const std::string& dir, SnapshotLoad* load) {
  *load = SnapshotLoad{};
  std::vector<SnapshotFile> snapshots;
  ELEVEN_RETURN_IF_ERROR(ListSnapshots(env, dir, &snapshots));
  for (const SnapshotFile& file : snapshots) {
    SnapshotHeader header;
    Status status = ReadSnapshot(env, file.path, &header, &load->snapshot.body);
    if (status.ok() && header.op != file.op) {
      status = Status::Corruption("snapshot " + file.path + " holds op " + std::to_string(header.op));
    }
    if (!status.ok()) {
      if (status.code() != StatusCode::kCorruption) return status;  // I/O errors stop recovery.
      load->skipped.push_back(status.ToString());
      continue;
    }
    load->found = true;
    load->snapshot.op = header.op;
    load->snapshot.timestamp_us = header.timestamp_us;
    load->snapshot.path = file.path;
    return Status::Ok();
  }
  if (snapshots.empty()) return Status::Ok();
  std::string message = "no snapshot in " + dir + " verifies:";
  for (const std::string& skipped : load->skipped) message += " [" + skipped + "]";
  return Status::Corruption(std::move(message));
}

}  // namespace eleven
