#include "storage/fault_env.h"

#include <algorithm>
#include <vector>

#include "base/assert.h"

namespace eleven {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultEnv* env, uint64_t generation, std::unique_ptr<WritableFile> base)
      : env_(env), generation_(generation), base_(std::move(base)) {}
  Status Append(ByteSpan data) override { return env_->FileAppend(generation_, base_.get(), data); }
  Status WriteTrailer(ByteSpan data) override {
    return env_->FileWriteTrailer(generation_, base_.get(), data);
  }
  Status Sync() override { return env_->FileSync(generation_, base_.get()); }
  // Not a durability point: a power cut still loses what it wrote back.
  Status WriteBack() override { return base_->WriteBack(); }
  Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultEnv* const env_;
  const uint64_t generation_;
  std::unique_ptr<WritableFile> base_;
};

class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(FaultEnv* env, uint64_t generation, std::unique_ptr<RandomAccessFile> base)
      : env_(env), generation_(generation), base_(std::move(base)) {}
  Status Read(uint64_t offset, size_t size_bytes, std::byte* scratch,
              size_t* read_bytes) const override {
    ELEVEN_RETURN_IF_ERROR(base_->Read(offset, size_bytes, scratch, read_bytes));
    return env_->FileRead(generation_, base_->path(), scratch, *read_bytes);
  }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultEnv* const env_;
  const uint64_t generation_;
  std::unique_ptr<RandomAccessFile> base_;
};

class FaultSequentialFile final : public SequentialFile {
 public:
  FaultSequentialFile(FaultEnv* env, uint64_t generation, std::unique_ptr<SequentialFile> base)
      : env_(env), generation_(generation), base_(std::move(base)) {}
  Status Read(size_t size_bytes, std::byte* scratch, size_t* read_bytes) override {
    ELEVEN_RETURN_IF_ERROR(base_->Read(size_bytes, scratch, read_bytes));
    return env_->FileRead(generation_, base_->path(), scratch, *read_bytes);
  }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultEnv* const env_;
  const uint64_t generation_;
  std::unique_ptr<SequentialFile> base_;
};

FaultEnv::FaultEnv(Env* base, uint64_t seed) : base_(base), rng_(seed) {
  ELEVEN_ASSERT(base != nullptr);
}

FaultEnv::~FaultEnv() = default;

void FaultEnv::Arm(FaultKind kind, FaultTrigger trigger) {
  ELEVEN_ASSERT(trigger.probability >= 0.0 && trigger.probability <= 1.0);
  ELEVEN_ASSERT(trigger.nth_call > 0 || trigger.probability > 0.0);
  std::lock_guard lock(mutex_);
  int index = static_cast<int>(kind);
  armed_[index] = true;
  triggers_[index] = std::move(trigger);
  call_counts_[index] = 0;
}

void FaultEnv::Disarm(FaultKind kind) {
  std::lock_guard lock(mutex_);
  armed_[static_cast<int>(kind)] = false;
}

void FaultEnv::DisarmAll() {
  std::lock_guard lock(mutex_);
  for (bool& armed : armed_) armed = false;
}

uint64_t FaultEnv::fired_count(FaultKind kind) const {
  std::lock_guard lock(mutex_);
  return fired_counts_[static_cast<int>(kind)];
}

bool FaultEnv::ShouldFire(FaultKind kind, const std::string& path) {
  int index = static_cast<int>(kind);
  if (!armed_[index]) return false;
  const FaultTrigger& trigger = triggers_[index];
  if (!trigger.path_substring.empty() && path.find(trigger.path_substring) == std::string::npos) {
    return false;
  }
  call_counts_[index]++;
  bool fire = false;
  if (trigger.nth_call > 0) {
    fire = call_counts_[index] == trigger.nth_call;
    if (fire) armed_[index] = false;  // One-shot.
  } else {
    fire = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < trigger.probability;
  }
  if (fire) fired_counts_[index]++;
  return fire;
}

uint64_t FaultEnv::RandomBelow(uint64_t bound) {
  ELEVEN_ASSERT(bound > 0);
  return std::uniform_int_distribution<uint64_t>(0, bound - 1)(rng_);
}

Status FaultEnv::CheckAlive(uint64_t generation, const std::string& path) const {
  if (generation == generation_) return Status::Ok();
  return Status::IOError(path + ": file was open across a simulated power cut");
}

Status FaultEnv::FileAppend(uint64_t generation, WritableFile* base_file, ByteSpan data) {
  std::lock_guard lock(mutex_);
  const std::string& path = base_file->path();
  ELEVEN_RETURN_IF_ERROR(CheckAlive(generation, path));
  // Every armed write fault counts this call, so each keeps its own Nth.
  bool short_write = ShouldFire(FaultKind::kShortWrite, path);
  bool write_error = ShouldFire(FaultKind::kWriteError, path);
  bool no_space = ShouldFire(FaultKind::kNoSpace, path);
  FileState& state = files_[path];
  if (state.overwriting) ELEVEN_RETURN_IF_ERROR(SaveOverwritten(path, state.size_bytes, data.size(), &state));
  if (short_write && !data.empty()) {
    size_t prefix_bytes = RandomBelow(data.size());
    Status status = base_file->Append(data.first(prefix_bytes));
    if (status.ok()) state.size_bytes += prefix_bytes;
    return Status::IOError("write " + path + ": short write, " + std::to_string(prefix_bytes) +
                           " of " + std::to_string(data.size()) + " bytes (injected)");
  }
  if (write_error) return Status::IOError("write " + path + ": Input/output error (EIO, injected)");
  if (no_space) return Status::NoSpace("write " + path + ": No space left on device (ENOSPC, injected)");
  Status status = base_file->Append(data);
  if (status.ok()) {
    state.size_bytes += data.size();
  } else {
    base_->GetFileSize(path, &state.size_bytes).IgnoreError();  // Best effort after a failure.
  }
  return status;
}

Status FaultEnv::FileWriteTrailer(uint64_t generation, WritableFile* base_file, ByteSpan data) {
  std::lock_guard lock(mutex_);
  const std::string& path = base_file->path();
  ELEVEN_RETURN_IF_ERROR(CheckAlive(generation, path));
  FileState& state = files_[path];
  if (state.overwriting) ELEVEN_RETURN_IF_ERROR(SaveOverwritten(path, state.size_bytes, data.size(), &state));
  return base_file->WriteTrailer(data);
}

// Before [offset, offset + size_bytes) of an overwriting file is written: keeps what is there.
Status FaultEnv::SaveOverwritten(const std::string& path, uint64_t offset, uint64_t size_bytes,
                                 FileState* state) {
  std::unique_ptr<RandomAccessFile> file;
  ELEVEN_RETURN_IF_ERROR(base_->NewRandomAccessFile(path, &file));
  Overwritten record{.offset = offset, .old_bytes = std::vector<std::byte>(size_bytes)};
  size_t read_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(file->Read(offset, size_bytes, record.old_bytes.data(), &read_bytes));
  record.old_bytes.resize(read_bytes);
  state->overwritten.push_back(std::move(record));
  state->written_end_bytes = std::max(state->written_end_bytes, offset + size_bytes);
  return Status::Ok();
}

// A power cut's undo for an overwriting file: every byte from `keep_to` on that was written
// since the last sync gets its old value back (latest write undone first), and the file
// its synced length (or keep_to, if longer). Durable through the base env.
Status FaultEnv::RestoreOverwritten(const std::string& path, const FileState& state, uint64_t keep_to) {
  for (auto it = state.overwritten.rbegin(); it != state.overwritten.rend(); ++it) {
    const uint64_t end = it->offset + it->old_bytes.size();
    if (end <= keep_to) continue;
    const uint64_t from = std::max(it->offset, keep_to);
    std::unique_ptr<WritableFile> file;
    ELEVEN_RETURN_IF_ERROR(base_->NewOverwritingFile(path, from, &file));
    ELEVEN_RETURN_IF_ERROR(file->Append(ByteSpan(it->old_bytes).subspan(from - it->offset)));
    ELEVEN_RETURN_IF_ERROR(file->Sync());
    ELEVEN_RETURN_IF_ERROR(file->Close());
  }
  uint64_t length_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(base_->GetFileSize(path, &length_bytes));
  const uint64_t length_kept_bytes = std::max(state.synced_length_bytes, keep_to);
  if (length_bytes > length_kept_bytes) return base_->TruncateFile(path, length_kept_bytes);
  return Status::Ok();
}

void FaultEnv::HoldSyncs(bool hold) {
  {
    std::lock_guard lock(hold_mutex_);
    hold_syncs_ = hold;
  }
  hold_cv_.notify_all();
}

uint64_t FaultEnv::syncs_held() const {
  std::lock_guard lock(hold_mutex_);
  return syncs_held_;
}

Status FaultEnv::FileSync(uint64_t generation, WritableFile* base_file) {
  {
    std::unique_lock hold(hold_mutex_);
    syncs_held_++;
    hold_cv_.wait(hold, [this] { return !hold_syncs_; });
    syncs_held_--;
  }
  std::lock_guard lock(mutex_);
  const std::string& path = base_file->path();
  ELEVEN_RETURN_IF_ERROR(CheckAlive(generation, path));
  if (ShouldFire(FaultKind::kSyncError, path)) {
    return Status::IOError("fdatasync " + path + ": Input/output error (EIO, injected)");
  }
  if (forward_syncs_) ELEVEN_RETURN_IF_ERROR(base_file->Sync());
  FileState& state = files_[path];
  state.synced_size_bytes = state.size_bytes;
  if (state.overwriting) {
    state.overwritten.clear();
    state.written_end_bytes = state.size_bytes;
    ELEVEN_RETURN_IF_ERROR(base_->GetFileSize(path, &state.synced_length_bytes));
  }
  return Status::Ok();
}

Status FaultEnv::FileRead(uint64_t generation, const std::string& path, std::byte* scratch,
                          size_t read_bytes) {
  std::lock_guard lock(mutex_);
  ELEVEN_RETURN_IF_ERROR(CheckAlive(generation, path));
  if (read_bytes > 0 && ShouldFire(FaultKind::kReadBitFlip, path)) {
    uint64_t bit_index = RandomBelow(uint64_t{read_bytes} * 8);
    scratch[bit_index / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit_index % 8))};
  }
  return Status::Ok();
}

Status FaultEnv::PowerCut(PowerCutMode mode) {
  std::lock_guard lock(mutex_);
  Status first_error;
  for (const auto& [path, state] : files_) {
    Status status;
    if (!state.entry_synced) {
      status = base_->RemoveFile(path);
      if (status.code() == StatusCode::kNotFound) status = Status::Ok();
    } else if (state.overwriting && !state.overwritten.empty()) {
      uint64_t kept_bytes = 0;
      if (mode == PowerCutMode::kKeepRandomPrefix) {
        kept_bytes = RandomBelow(state.written_end_bytes - state.synced_size_bytes + 1);
      }
      status = RestoreOverwritten(path, state, state.synced_size_bytes + kept_bytes);
    } else if (!state.overwriting && state.size_bytes > state.synced_size_bytes) {
      uint64_t kept_bytes = 0;
      if (mode == PowerCutMode::kKeepRandomPrefix) {
        kept_bytes = RandomBelow(state.size_bytes - state.synced_size_bytes + 1);
      }
      status = base_->TruncateFile(path, state.synced_size_bytes + kept_bytes);
    }
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  files_.clear();  // What is on disk now is what survived: all of it counts as durable.
  generation_++;
  return first_error;
}

Status FaultEnv::NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) {
  std::lock_guard lock(mutex_);
  uint64_t size_bytes = 0;
  bool existed = base_->GetFileSize(path, &size_bytes).ok();
  std::unique_ptr<WritableFile> base_file;
  ELEVEN_RETURN_IF_ERROR(base_->NewWritableFile(path, &base_file));
  FileState& state = files_[path];
  bool entry_synced = existed ? state.entry_synced : false;
  state = FileState{.size_bytes = 0, .synced_size_bytes = 0, .entry_synced = entry_synced};
  *file = std::make_unique<FaultWritableFile>(this, generation_, std::move(base_file));
  return Status::Ok();
}

Status FaultEnv::NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* file) {
  std::lock_guard lock(mutex_);
  uint64_t size_bytes = 0;
  bool existed = base_->GetFileSize(path, &size_bytes).ok();
  std::unique_ptr<WritableFile> base_file;
  ELEVEN_RETURN_IF_ERROR(base_->NewAppendableFile(path, &base_file));
  if (files_.find(path) == files_.end()) {
    files_[path] = FileState{.size_bytes = size_bytes,
                             .synced_size_bytes = size_bytes,
                             .entry_synced = existed};
  }
  files_[path].overwriting = false;  // Appends: a cut truncates.
  files_[path].overwritten.clear();
  *file = std::make_unique<FaultWritableFile>(this, generation_, std::move(base_file));
  return Status::Ok();
}

Status FaultEnv::NewOverwritingFile(const std::string& path, uint64_t offset,
                                    std::unique_ptr<WritableFile>* file) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<WritableFile> base_file;
  ELEVEN_RETURN_IF_ERROR(base_->NewOverwritingFile(path, offset, &base_file));
  FileState& state = files_[path];  // A new entry has a durable name (it existed before).
  state.size_bytes = offset;
  state.synced_size_bytes = offset;
  state.overwriting = true;
  state.overwritten.clear();
  state.written_end_bytes = offset;
  ELEVEN_RETURN_IF_ERROR(base_->GetFileSize(path, &state.synced_length_bytes));
  *file = std::make_unique<FaultWritableFile>(this, generation_, std::move(base_file));
  return Status::Ok();
}

Status FaultEnv::NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* file) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<RandomAccessFile> base_file;
  ELEVEN_RETURN_IF_ERROR(base_->NewRandomAccessFile(path, &base_file));
  *file = std::make_unique<FaultRandomAccessFile>(this, generation_, std::move(base_file));
  return Status::Ok();
}

Status FaultEnv::NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* file) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<SequentialFile> base_file;
  ELEVEN_RETURN_IF_ERROR(base_->NewSequentialFile(path, &base_file));
  *file = std::make_unique<FaultSequentialFile>(this, generation_, std::move(base_file));
  return Status::Ok();
}

Status FaultEnv::GetFileSize(const std::string& path, uint64_t* size_bytes) {
  return base_->GetFileSize(path, size_bytes);
}

Status FaultEnv::GetChildren(const std::string& dir, std::vector<std::string>* names) {
  return base_->GetChildren(dir, names);
}

Status FaultEnv::RemoveFile(const std::string& path) {
  std::lock_guard lock(mutex_);
  ELEVEN_RETURN_IF_ERROR(base_->RemoveFile(path));
  files_.erase(path);
  return Status::Ok();
}

Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard lock(mutex_);
  uint64_t size_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(base_->GetFileSize(from, &size_bytes));
  ELEVEN_RETURN_IF_ERROR(base_->RenameFile(from, to));
  FileState state{.size_bytes = size_bytes, .synced_size_bytes = size_bytes};
  auto it = files_.find(from);
  if (it != files_.end()) {
    state = it->second;
    files_.erase(it);
  }
  state.entry_synced = false;  // The new name is not durable until SyncDir.
  files_[to] = state;
  return Status::Ok();
}

Status FaultEnv::TruncateFile(const std::string& path, uint64_t size_bytes) {
  std::lock_guard lock(mutex_);
  ELEVEN_RETURN_IF_ERROR(base_->TruncateFile(path, size_bytes));
  auto it = files_.find(path);
  if (it != files_.end()) {
    it->second.size_bytes = size_bytes;
    it->second.synced_size_bytes = size_bytes;  // TruncateFile syncs.
    it->second.overwriting = false;
    it->second.overwritten.clear();
  }
  return Status::Ok();
}

Status FaultEnv::CreateDir(const std::string& path) { return base_->CreateDir(path); }

Status FaultEnv::SyncDir(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (forward_syncs_) ELEVEN_RETURN_IF_ERROR(base_->SyncDir(path));
  for (auto& [file_path, state] : files_) {
    if (DirName(file_path) == path) state.entry_synced = true;
  }
  return Status::Ok();
}

Status FaultEnv::LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) {
  return base_->LockFile(path, lock);
}

void FaultEnv::SetFreeSpace(std::optional<uint64_t> free_bytes) {
  std::lock_guard lock(mutex_);
  free_space_bytes_ = free_bytes;
}

Status FaultEnv::GetFreeSpace(const std::string& path, uint64_t* free_bytes) {
  {
    std::lock_guard lock(mutex_);
    if (free_space_bytes_) {
      *free_bytes = *free_space_bytes_;
      return Status::Ok();
    }
  }
  return base_->GetFreeSpace(path, free_bytes);
}

}  // namespace eleven
