// PosixEnv: the real Env over POSIX system calls. Stateless apart from the file descriptors
// each object owns, so it is thread-safe.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "storage/env.h"

namespace eleven {
namespace {

// Largest single read(2)/write(2) request; Linux caps a call at 0x7ffff000 bytes anyway.
constexpr size_t kIoChunkSizeBytesMax = size_t{1} << 30;

Status PosixError(const char* operation, const std::string& path, int error_number) {
  // The errno's text and its name: "No space left on device (ENOSPC)".
  const char* name = strerrorname_np(error_number);
  std::string message = std::string(operation) + " " + path + ": " + std::strerror(error_number) +
                        " (" + (name != nullptr ? name : "errno " + std::to_string(error_number)) + ")";
  if (error_number == ENOENT) return Status::NotFound(std::move(message));
  if (error_number == ENOSPC || error_number == EDQUOT) return Status::NoSpace(std::move(message));
  return Status::IOError(std::move(message));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
    ELEVEN_ASSERT(fd_ >= 0);
  }
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(ByteSpan data) override {
    if (fd_ < 0) return Status::FailedPrecondition("write " + path_ + ": file is closed");
    const std::byte* cursor = data.data();
    size_t left_bytes = data.size();
    while (left_bytes > 0) {
      size_t request_bytes = std::min(left_bytes, kIoChunkSizeBytesMax);
      ssize_t written = ::write(fd_, cursor, request_bytes);
      if (written < 0) {
        if (errno == EINTR) continue;
        return PosixError("write", path_, errno);
      }
      // write(2) returning 0 for a non-empty request would loop forever; treat as no space.
      if (written == 0) return Status::NoSpace("write " + path_ + ": wrote 0 bytes");
      ELEVEN_ASSERT(static_cast<size_t>(written) <= request_bytes);
      cursor += written;
      left_bytes -= static_cast<size_t>(written);
    }
    return Status::Ok();
  }

  Status WriteTrailer(ByteSpan data) override {
    if (fd_ < 0) return Status::FailedPrecondition("write " + path_ + ": file is closed");
    const off_t position = ::lseek(fd_, 0, SEEK_CUR);
    if (position < 0) return PosixError("lseek", path_, errno);
    size_t done_bytes = 0;
    while (done_bytes < data.size()) {
      ssize_t written = ::pwrite(fd_, data.data() + done_bytes, data.size() - done_bytes,
                                 position + static_cast<off_t>(done_bytes));
      if (written < 0) {
        if (errno == EINTR) continue;
        return PosixError("pwrite", path_, errno);
      }
      if (written == 0) return Status::NoSpace("pwrite " + path_ + ": wrote 0 bytes");
      done_bytes += static_cast<size_t>(written);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (fd_ < 0) return Status::FailedPrecondition("fdatasync " + path_ + ": file is closed");
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync", path_, errno);
    return Status::Ok();
  }

  Status WriteBack() override {
    if (fd_ < 0) return Status::FailedPrecondition("sync_file_range " + path_ + ": file is closed");
    constexpr unsigned kFlags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
    if (::sync_file_range(fd_, 0, 0, kFlags) != 0) return PosixError("sync_file_range", path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int result = ::close(fd_);
    fd_ = -1;
    if (result != 0) return PosixError("close", path_, errno);
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
    ELEVEN_ASSERT(fd_ >= 0);
  }
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t size_bytes, std::byte* scratch,
              size_t* read_bytes) const override {
    size_t done_bytes = 0;
    while (done_bytes < size_bytes) {
      size_t request_bytes = std::min(size_bytes - done_bytes, kIoChunkSizeBytesMax);
      ssize_t got = ::pread(fd_, scratch + done_bytes, request_bytes,
                            static_cast<off_t>(offset + done_bytes));
      if (got < 0) {
        if (errno == EINTR) continue;
        return PosixError("pread", path_, errno);
      }
      if (got == 0) break;  // End of file.
      done_bytes += static_cast<size_t>(got);
    }
    ELEVEN_ASSERT(done_bytes <= size_bytes);
    *read_bytes = done_bytes;
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
    ELEVEN_ASSERT(fd_ >= 0);
  }
  ~PosixSequentialFile() override { ::close(fd_); }

  Status Read(size_t size_bytes, std::byte* scratch, size_t* read_bytes) override {
    size_t done_bytes = 0;
    while (done_bytes < size_bytes) {
      size_t request_bytes = std::min(size_bytes - done_bytes, kIoChunkSizeBytesMax);
      ssize_t got = ::read(fd_, scratch + done_bytes, request_bytes);
      if (got < 0) {
        if (errno == EINTR) continue;
        return PosixError("read", path_, errno);
      }
      if (got == 0) break;
      done_bytes += static_cast<size_t>(got);
    }
    *read_bytes = done_bytes;
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    return OpenForWrite(path, O_TRUNC, file);
  }

  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    return OpenForWrite(path, O_APPEND, file);
  }

  Status NewOverwritingFile(const std::string& path, uint64_t offset,
                            std::unique_ptr<WritableFile>* file) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", path, errno);
    if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
      const int error_number = errno;
      ::close(fd);
      return PosixError("lseek", path, error_number);
    }
    *file = std::make_unique<PosixWritableFile>(path, fd);
    return Status::Ok();
  }

  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* file) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", path, errno);
    *file = std::make_unique<PosixRandomAccessFile>(path, fd);
    return Status::Ok();
  }

  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* file) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", path, errno);
    *file = std::make_unique<PosixSequentialFile>(path, fd);
    return Status::Ok();
  }

  Status GetFileSize(const std::string& path, uint64_t* size_bytes) override {
    struct stat info;
    if (::stat(path.c_str(), &info) != 0) return PosixError("stat", path, errno);
    *size_bytes = static_cast<uint64_t>(info.st_size);
    return Status::Ok();
  }

  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) return PosixError("opendir", dir, errno);
    while (struct dirent* entry = ::readdir(handle)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      names->push_back(std::move(name));
    }
    ::closedir(handle);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename", from + " to " + to, errno);
    return Status::Ok();
  }

  Status TruncateFile(const std::string& path, uint64_t size_bytes) override;
  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0) {
      if (errno == EEXIST) return Status::AlreadyExists("mkdir " + path + ": already exists");
      return PosixError("mkdir", path, errno);
    }
    return Status::Ok();
  }
  Status SyncDir(const std::string& path) override;
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override;
  Status GetFreeSpace(const std::string& path, uint64_t* free_bytes) override {
    struct statvfs fs {};
    if (::statvfs(path.c_str(), &fs) != 0) return PosixError("statvfs", path, errno);
    *free_bytes = uint64_t{fs.f_bavail} * uint64_t{fs.f_frsize};
    return Status::Ok();
  }

 private:
  static Status OpenForWrite(const std::string& path, int mode_flag,
                             std::unique_ptr<WritableFile>* file) {
    ELEVEN_ASSERT(mode_flag == O_TRUNC || mode_flag == O_APPEND);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | mode_flag, 0644);
    if (fd < 0) return PosixError("open", path, errno);
    *file = std::make_unique<PosixWritableFile>(path, fd);
    return Status::Ok();
  }
};

Status PosixEnv::TruncateFile(const std::string& path, uint64_t size_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open", path, errno);
  Status status;
  if (::ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
    status = PosixError("ftruncate", path, errno);
  } else if (::fdatasync(fd) != 0) {
    status = PosixError("fdatasync", path, errno);
  }
  ::close(fd);
  return status;
}

Status PosixEnv::SyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError("open directory", path, errno);
  Status status;
  if (::fsync(fd) != 0) status = PosixError("fsync directory", path, errno);
  ::close(fd);
  return status;
}

Status PosixEnv::LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError("open lock file", path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error_number = errno;
    ::close(fd);
    if (error_number == EWOULDBLOCK) return Status::Busy("flock " + path + ": held by another opener");
    return PosixError("flock", path, error_number);
  }
  *lock = std::make_unique<PosixFileLock>(path, fd);
  return Status::Ok();
}

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // Never destroyed: files may outlive static dtors.
  return env;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  ELEVEN_ASSERT(!name.empty());
  return dir + "/" + name;
}

Status WriteFileDurably(Env* env, const std::string& dir, const std::string& name, ByteSpan data) {
  const std::string path = JoinPath(dir, name);
  const std::string temp_path = path + ".tmp";
  std::unique_ptr<WritableFile> file;
  ELEVEN_RETURN_IF_ERROR(env->NewWritableFile(temp_path, &file));
  ELEVEN_RETURN_IF_ERROR(file->Append(data));
  ELEVEN_RETURN_IF_ERROR(file->Sync());
  ELEVEN_RETURN_IF_ERROR(file->Close());
  ELEVEN_RETURN_IF_ERROR(env->RenameFile(temp_path, path));
  return env->SyncDir(dir);
}

Status ReadWholeFile(Env* env, const std::string& path, uint64_t size_bytes_max,
                     std::vector<std::byte>* data) {
  uint64_t size_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(env->GetFileSize(path, &size_bytes));
  if (size_bytes > size_bytes_max) {
    return Status::Corruption(path + ": " + std::to_string(size_bytes) + " bytes, more than the " +
                              std::to_string(size_bytes_max) + " allowed");
  }
  std::unique_ptr<SequentialFile> file;
  ELEVEN_RETURN_IF_ERROR(env->NewSequentialFile(path, &file));
  data->resize(size_bytes);
  size_t read_bytes = 0;
  ELEVEN_RETURN_IF_ERROR(file->Read(data->size(), data->data(), &read_bytes));
  data->resize(read_bytes);
  return Status::Ok();
}

}  // namespace eleven
