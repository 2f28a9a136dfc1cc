#include "cluster/local_copy.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/hash.h"

namespace eleven::cluster {

namespace {

constexpr std::string_view kSuffix = ".copy";
constexpr size_t kRecordHeadSize = 4 + 8;  // size, checksum
constexpr size_t kRecordSizeMax = size_t{64} << 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename T>
void Put(std::vector<std::byte>* out, T value) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &value, sizeof(T));
}

void PutText(std::vector<std::byte>* out, std::string_view text) {
  Put(out, static_cast<uint16_t>(text.size()));
  const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
  out->insert(out->end(), bytes, bytes + text.size());
}

bool IsCopyFile(const std::string& name) {
  return name.size() == 20 + kSuffix.size() && name.ends_with(kSuffix) &&
         std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; });
}

// Parses one record body; false if it is not well formed.
bool ParseBody(const std::byte* p, size_t size, CopiedEntry* entry) {
  const std::byte* end = p + size;
  auto take = [&](void* out, size_t n) {
    if (size_t(end - p) < n) return false;
    std::memcpy(out, p, n);
    p += n;
    return true;
  };
  auto text = [&](std::string* out) {
    uint16_t n = 0;
    if (!take(&n, sizeof(n)) || size_t(end - p) < n) return false;
    out->assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
  };
  if (!take(&entry->op, sizeof(entry->op)) || !text(&entry->previous_id) || !text(&entry->id)) return false;
  entry->message.assign(p, end);
  return true;
}

}  // namespace

Status LocalCopy::Open(Env* env, const std::string& dir, const LocalCopyOptions& options,
                       std::unique_ptr<LocalCopy>* copy) {
  const Status created = env->CreateDir(dir);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
  std::unique_ptr<LocalCopy> c(new LocalCopy(env, dir, options));
  std::vector<std::string> names;
  ELEVEN_RETURN_IF_ERROR(env->GetChildren(dir, &names));
  std::sort(names.begin(), names.end());
  const int64_t now = NowMs();
  for (const std::string& name : names) {
    if (IsCopyFile(name)) c->closed_.emplace_back(dir + "/" + name, now);
  }
  *copy = std::move(c);
  return Status::Ok();
}

LocalCopy::~LocalCopy() = default;

Status LocalCopy::StartFile(uint64_t op) {
  const int64_t now = NowMs();
  if (file_ != nullptr) {
    ELEVEN_RETURN_IF_ERROR(file_->Sync());
    closed_.emplace_back(file_->path(), now);
    ELEVEN_RETURN_IF_ERROR(file_->Close());
    file_.reset();
  }
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(op));
  // A file of that name is left from an earlier term that ended before its first sync; its
  // entries were never acknowledged.
  ELEVEN_RETURN_IF_ERROR(env_->NewWritableFile(dir_ + "/" + name + std::string(kSuffix), &file_));
  ELEVEN_RETURN_IF_ERROR(env_->SyncDir(dir_));
  file_started_ms_ = now;
  return RemoveOld(now);
}

Status LocalCopy::RemoveOld(int64_t now_ms) {
  while (!closed_.empty() && now_ms - closed_.front().second > options_.keep_ms) {
    const Status removed = env_->RemoveFile(closed_.front().first);
    if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
    closed_.erase(closed_.begin());
  }
  return Status::Ok();
}

Status LocalCopy::Append(uint64_t op, std::string_view id, std::string_view previous_id, ByteSpan message) {
  if (file_ == nullptr || NowMs() - file_started_ms_ > options_.segment_ms) {
    ELEVEN_RETURN_IF_ERROR(StartFile(op));
  }
  record_.clear();
  Put(&record_, uint32_t{0});
  Put(&record_, uint64_t{0});
  Put(&record_, op);
  PutText(&record_, previous_id);
  PutText(&record_, id);
  record_.insert(record_.end(), message.begin(), message.end());
  const uint32_t size = static_cast<uint32_t>(record_.size() - kRecordHeadSize);
  const uint64_t checksum = Checksum64(record_.data() + kRecordHeadSize, size);
  std::memcpy(record_.data(), &size, sizeof(size));
  std::memcpy(record_.data() + 4, &checksum, sizeof(checksum));
  bytes_written_ += record_.size();
  return file_->Append(record_);
}

Status LocalCopy::Sync() { return file_ != nullptr ? file_->Sync() : Status::Ok(); }

Status LocalCopy::ReadAll(Env* env, const std::string& dir, std::vector<CopiedEntry>* entries) {
  entries->clear();
  std::vector<std::string> names;
  const Status listed = env->GetChildren(dir, &names);
  if (listed.code() == StatusCode::kNotFound) return Status::Ok();
  ELEVEN_RETURN_IF_ERROR(listed);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (!IsCopyFile(name)) continue;
    std::vector<std::byte> data;
    ELEVEN_RETURN_IF_ERROR(ReadWholeFile(env, dir + "/" + name, uint64_t{1} << 40, &data));
    size_t at = 0;
    while (data.size() - at >= kRecordHeadSize) {
      uint32_t size = 0;
      uint64_t checksum = 0;
      std::memcpy(&size, data.data() + at, sizeof(size));
      std::memcpy(&checksum, data.data() + at + 4, sizeof(checksum));
      if (size > kRecordSizeMax || data.size() - at - kRecordHeadSize < size) break;
      const std::byte* body = data.data() + at + kRecordHeadSize;
      CopiedEntry entry;
      if (Checksum64(body, size) != checksum || !ParseBody(body, size, &entry)) break;
      entries->push_back(std::move(entry));
      at += kRecordHeadSize + size;
    }
  }
  return Status::Ok();
}

Status LocalCopy::RemoveAll(Env* env, const std::string& dir) {
  std::vector<std::string> names;
  const Status listed = env->GetChildren(dir, &names);
  if (listed.code() == StatusCode::kNotFound) return Status::Ok();
  ELEVEN_RETURN_IF_ERROR(listed);
  for (const std::string& name : names) {
    if (IsCopyFile(name)) ELEVEN_RETURN_IF_ERROR(env->RemoveFile(dir + "/" + name));
  }
  return env->SyncDir(dir);
}

}  // namespace eleven::cluster
