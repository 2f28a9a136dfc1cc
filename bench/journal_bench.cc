// How to make journal appends durable: each benchmark appends one entry of range(0) bytes and
// waits until it is durable, the way a group commit does, and reports syncs/s (items) and
// MB/s (bytes). The methods:
//   WriteFdatasync     write(2) + fdatasync(2) on an appended file (what JournalWriter does)
//   ODsync             write(2) on a file opened O_DSYNC
//   ODirectODsync      write(2) of an aligned buffer on a file opened O_DIRECT | O_DSYNC
//   IoUring            io_uring: a write linked to an fdatasync, one submit and wait
//   PrezeroedFdatasync write(2) + fdatasync(2) over a file zero-filled and synced beforehand
//                      (no size or extent change per sync, so no file-system journal commit)
//   JournalWriter      eleven's JournalWriter::Append + Sync through PosixEnv
//   JournalWriterGroup JournalWriter with 16 entries of range(0) bytes per Sync
// Files go to $ELEVEN_BENCH_DIR (default: the current directory), which must be on the disk
// under test (not tmpfs). Results and the choice: docs/storage-format.md.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/assert.h"
#include "storage/journal.h"

namespace eleven {
namespace {

// Appended files start over after this many bytes, so a long run does not fill the disk.
constexpr uint64_t kBenchFileSizeBytesMax = uint64_t{256} << 20;
constexpr uint64_t kDirectIoAlignment = 4096;
constexpr int kGroupEntryCount = 16;

std::string BenchDir() {
  const char* base = std::getenv("ELEVEN_BENCH_DIR");
  std::string pattern = std::string(base != nullptr ? base : ".") + "/journal-bench-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  ELEVEN_ASSERT(::mkdtemp(buffer.data()) != nullptr);
  return buffer.data();
}

// A scratch directory and an aligned, filled buffer for one benchmark.
class Fixture {
 public:
  explicit Fixture(size_t entry_size_bytes)
      : dir_(BenchDir()),
        path_(dir_ + "/journal.log"),
        buffer_(static_cast<std::byte*>(std::aligned_alloc(kDirectIoAlignment, entry_size_bytes))),
        size_bytes_(entry_size_bytes) {
    ELEVEN_ASSERT(entry_size_bytes % kDirectIoAlignment == 0);
    for (size_t i = 0; i < size_bytes_; i++) buffer_[i] = std::byte{static_cast<uint8_t>(i * 131)};
  }
  ~Fixture() {
    if (fd_ >= 0) ::close(fd_);
    std::free(buffer_);
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  void Open(int extra_flags) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | extra_flags, 0644);
    ELEVEN_ASSERT(fd_ >= 0);
    offset_ = 0;
  }

  // Starts the file over once it is large; timing paused by the caller.
  bool Full() const { return offset_ + size_bytes_ > kBenchFileSizeBytesMax; }

  void Write() {
    ssize_t written = ::pwrite(fd_, buffer_, size_bytes_, static_cast<off_t>(offset_));
    ELEVEN_ASSERT(written == static_cast<ssize_t>(size_bytes_));
    offset_ += size_bytes_;
  }

  int fd() const { return fd_; }
  std::byte* buffer() const { return buffer_; }
  size_t size_bytes() const { return size_bytes_; }
  uint64_t offset() const { return offset_; }
  void Advance() { offset_ += size_bytes_; }
  void Rewind() { offset_ = 0; }
  const std::string& dir() const { return dir_; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  std::byte* buffer_;
  size_t size_bytes_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

void Report(benchmark::State& state, size_t entry_size_bytes, int entries_per_sync = 1) {
  state.SetItemsProcessed(state.iterations());  // Syncs.
  state.SetBytesProcessed(state.iterations() * int64_t(entry_size_bytes) * entries_per_sync);
}

void BM_WriteFdatasync(benchmark::State& state) {
  Fixture fixture(static_cast<size_t>(state.range(0)));
  fixture.Open(0);
  for (auto _ : state) {
    if (fixture.Full()) {
      state.PauseTiming();
      fixture.Open(0);
      state.ResumeTiming();
    }
    fixture.Write();
    ELEVEN_ASSERT(::fdatasync(fixture.fd()) == 0);
  }
  Report(state, fixture.size_bytes());
}

void BM_ODsync(benchmark::State& state) {
  Fixture fixture(static_cast<size_t>(state.range(0)));
  fixture.Open(O_DSYNC);
  for (auto _ : state) {
    if (fixture.Full()) {
      state.PauseTiming();
      fixture.Open(O_DSYNC);
      state.ResumeTiming();
    }
    fixture.Write();
  }
  Report(state, fixture.size_bytes());
}

void BM_ODirectODsync(benchmark::State& state) {
  Fixture fixture(static_cast<size_t>(state.range(0)));
  fixture.Open(O_DIRECT | O_DSYNC);
  for (auto _ : state) {
    if (fixture.Full()) {
      state.PauseTiming();
      fixture.Open(O_DIRECT | O_DSYNC);
      state.ResumeTiming();
    }
    fixture.Write();
  }
  Report(state, fixture.size_bytes());
}

void BM_IoUring(benchmark::State& state) {
  Fixture fixture(static_cast<size_t>(state.range(0)));
  fixture.Open(0);
  struct io_uring ring;
  constexpr unsigned kRingEntryCount = 8;
  ELEVEN_ASSERT(io_uring_queue_init(kRingEntryCount, &ring, 0) == 0);
  for (auto _ : state) {
    if (fixture.Full()) {
      state.PauseTiming();
      fixture.Open(0);
      state.ResumeTiming();
    }
    struct io_uring_sqe* write = io_uring_get_sqe(&ring);
    io_uring_prep_write(write, fixture.fd(), fixture.buffer(), unsigned(fixture.size_bytes()),
                        fixture.offset());
    write->flags |= IOSQE_IO_LINK;  // The fdatasync starts only after the write completed.
    struct io_uring_sqe* sync = io_uring_get_sqe(&ring);
    io_uring_prep_fsync(sync, fixture.fd(), IORING_FSYNC_DATASYNC);
    ELEVEN_ASSERT(io_uring_submit_and_wait(&ring, 2) == 2);
    for (int i = 0; i < 2; i++) {
      struct io_uring_cqe* completion = nullptr;
      ELEVEN_ASSERT(io_uring_wait_cqe(&ring, &completion) == 0);
      ELEVEN_ASSERT(completion->res >= 0);
      io_uring_cqe_seen(&ring, completion);
    }
    fixture.Advance();
  }
  io_uring_queue_exit(&ring);
  Report(state, fixture.size_bytes());
}

void BM_PrezeroedFdatasync(benchmark::State& state) {
  Fixture fixture(static_cast<size_t>(state.range(0)));
  fixture.Open(0);
  constexpr uint64_t kPrezeroedSizeBytes = uint64_t{64} << 20;
  std::vector<std::byte> zeros(uint64_t{1} << 20);
  for (uint64_t done = 0; done < kPrezeroedSizeBytes; done += zeros.size()) {
    ELEVEN_ASSERT(::write(fixture.fd(), zeros.data(), zeros.size()) == ssize_t(zeros.size()));
  }
  ELEVEN_ASSERT(::fsync(fixture.fd()) == 0);
  for (auto _ : state) {
    if (fixture.offset() + fixture.size_bytes() > kPrezeroedSizeBytes) fixture.Rewind();
    fixture.Write();
    ELEVEN_ASSERT(::fdatasync(fixture.fd()) == 0);
  }
  Report(state, fixture.size_bytes());
}

void RunJournalWriter(benchmark::State& state, int entries_per_sync) {
  Fixture fixture(static_cast<size_t>(state.range(0)));
  std::unique_ptr<JournalWriter> writer;
  JournalRecovery recovery;
  ELEVEN_ASSERT(JournalWriter::Open(Env::Default(), fixture.dir(), {}, &writer, &recovery).ok());
  ByteSpan body(fixture.buffer(), fixture.size_bytes());
  uint64_t op = 0;
  for (auto _ : state) {
    for (int i = 0; i < entries_per_sync; i++) {
      op++;
      ELEVEN_ASSERT(writer->Append(op, op, 1, body).ok());
    }
    ELEVEN_ASSERT(writer->Sync().ok());
    if (op % 256 == 0) {  // Keep the disk use bounded, outside the timing.
      state.PauseTiming();
      ELEVEN_ASSERT(RemoveJournalSegmentsBefore(Env::Default(), fixture.dir(), op + 1).ok());
      state.ResumeTiming();
    }
  }
  state.counters["syncs"] = double(writer->sync_count());
  Report(state, fixture.size_bytes(), entries_per_sync);
}

void BM_JournalWriter(benchmark::State& state) { RunJournalWriter(state, 1); }
void BM_JournalWriterGroup(benchmark::State& state) { RunJournalWriter(state, kGroupEntryCount); }

void EntrySizes(benchmark::internal::Benchmark* benchmark) {
  for (int64_t size_bytes : {4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}) {
    benchmark->Arg(size_bytes);
  }
  benchmark->UseRealTime()->MinTime(1.0);
}

BENCHMARK(BM_WriteFdatasync)->Apply(EntrySizes);
BENCHMARK(BM_ODsync)->Apply(EntrySizes);
BENCHMARK(BM_ODirectODsync)->Apply(EntrySizes);
BENCHMARK(BM_IoUring)->Apply(EntrySizes);
BENCHMARK(BM_PrezeroedFdatasync)->Apply(EntrySizes);
BENCHMARK(BM_JournalWriter)->Apply(EntrySizes);
BENCHMARK(BM_JournalWriterGroup)->Arg(4 << 10)->Arg(64 << 10)->UseRealTime()->MinTime(1.0);

}  // namespace
}  // namespace eleven

BENCHMARK_MAIN();
