#include "storage/env.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "storage/fault_env.h"
#include "storage/test_util.h"

namespace eleven {
namespace {

using testing::AsBytes;
using testing::TempDir;

std::string ReadAll(Env* env, const std::string& path) {
  std::vector<std::byte> data;
  Status status = ReadWholeFile(env, path, 1 << 20, &data);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return std::string(reinterpret_cast<const char*>(data.data()), data.size());
}

TEST(PosixEnv, WriteAppendReadRenameRemove) {
  TempDir dir;
  Env* env = Env::Default();
  std::unique_ptr<WritableFile> file;
  ASSERT_TRUE(env->NewWritableFile(dir.File("a"), &file).ok());
  ASSERT_TRUE(file->Append(AsBytes("hello ")).ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->Close().ok());
  ASSERT_TRUE(env->NewAppendableFile(dir.File("a"), &file).ok());
  ASSERT_TRUE(file->Append(AsBytes("world")).ok());
  ASSERT_TRUE(file->Close().ok());
  EXPECT_EQ(ReadAll(env, dir.File("a")), "hello world");

  std::unique_ptr<RandomAccessFile> random;
  ASSERT_TRUE(env->NewRandomAccessFile(dir.File("a"), &random).ok());
  std::byte scratch[16];
  size_t read_bytes = 0;
  ASSERT_TRUE(random->Read(6, sizeof(scratch), scratch, &read_bytes).ok());
  EXPECT_EQ(read_bytes, 5u);

  uint64_t size_bytes = 0;
  ASSERT_TRUE(env->GetFileSize(dir.File("a"), &size_bytes).ok());
  EXPECT_EQ(size_bytes, 11u);
  ASSERT_TRUE(env->TruncateFile(dir.File("a"), 5).ok());
  EXPECT_EQ(ReadAll(env, dir.File("a")), "hello");
  ASSERT_TRUE(env->RenameFile(dir.File("a"), dir.File("b")).ok());
  ASSERT_TRUE(env->SyncDir(dir.path()).ok());
  std::vector<std::string> names;
  ASSERT_TRUE(env->GetChildren(dir.path(), &names).ok());
  EXPECT_EQ(names, std::vector<std::string>{"b"});
  ASSERT_TRUE(env->RemoveFile(dir.File("b")).ok());
  Status missing = env->GetFileSize(dir.File("b"), &size_bytes);
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find(dir.File("b")), std::string::npos) << missing.ToString();
  EXPECT_EQ(env->CreateDir(dir.path()).code(), StatusCode::kAlreadyExists);
}

TEST(PosixEnv, LockIsExclusiveEvenWithinAProcess) {
  TempDir dir;
  Env* env = Env::Default();
  std::unique_ptr<FileLock> first;
  std::unique_ptr<FileLock> second;
  ASSERT_TRUE(env->LockFile(dir.File("LOCK"), &first).ok());
  EXPECT_EQ(env->LockFile(dir.File("LOCK"), &second).code(), StatusCode::kBusy);
  first.reset();
  EXPECT_TRUE(env->LockFile(dir.File("LOCK"), &second).ok());
}

struct WriteFaultCase {
  FaultKind kind;
  StatusCode code;
  const char* words;
};

TEST(FaultEnv, WriteFaultsFailWithFileAndOperation) {
  const WriteFaultCase cases[] = {
      {FaultKind::kShortWrite, StatusCode::kIOError, "short write"},
      {FaultKind::kWriteError, StatusCode::kIOError, "Input/output error"},
      {FaultKind::kNoSpace, StatusCode::kNoSpace, "No space"},
  };
  for (const WriteFaultCase& fault : cases) {
    TempDir dir;
    FaultEnv env(Env::Default(), 7);
    env.Arm(fault.kind, {.nth_call = 2});
    std::unique_ptr<WritableFile> file;
    ASSERT_TRUE(env.NewWritableFile(dir.File("f"), &file).ok());
    ASSERT_TRUE(file->Append(AsBytes("first")).ok());
    Status status = file->Append(AsBytes("second"));
    EXPECT_EQ(status.code(), fault.code) << status.ToString();
    EXPECT_NE(status.message().find("write " + dir.File("f")), std::string::npos) << status.ToString();
    EXPECT_NE(status.message().find(fault.words), std::string::npos) << status.ToString();
    EXPECT_TRUE(file->Append(AsBytes("third")).ok());  // One-shot.
    EXPECT_EQ(env.fired_count(fault.kind), 1u);
    std::string content = ReadAll(&env, dir.File("f"));
    EXPECT_TRUE(content.starts_with("first"));
    EXPECT_TRUE(content.ends_with("third"));
    EXPECT_LT(content.size(), std::string("firstsecondthird").size());
  }
}

TEST(FaultEnv, SyncErrorAndPathFilter) {
  TempDir dir;
  FaultEnv env(Env::Default(), 7);
  env.Arm(FaultKind::kSyncError, {.nth_call = 1, .path_substring = "journal"});
  std::unique_ptr<WritableFile> other;
  std::unique_ptr<WritableFile> journal;
  ASSERT_TRUE(env.NewWritableFile(dir.File("other"), &other).ok());
  ASSERT_TRUE(env.NewWritableFile(dir.File("journal"), &journal).ok());
  EXPECT_TRUE(other->Sync().ok());
  Status status = journal->Sync();
  EXPECT_EQ(status.code(), StatusCode::kIOError);
  EXPECT_NE(status.message().find("fdatasync " + dir.File("journal")), std::string::npos);
}

TEST(FaultEnv, ReadBitFlipChangesExactlyOneBit) {
  TempDir dir;
  FaultEnv env(Env::Default(), 11);
  std::string text(1000, 'x');
  ASSERT_TRUE(WriteFileDurably(&env, dir.path(), "f", AsBytes(text)).ok());
  env.Arm(FaultKind::kReadBitFlip, {.nth_call = 1});
  std::string flipped = ReadAll(&env, dir.File("f"));
  ASSERT_EQ(flipped.size(), text.size());
  int differing_bits = 0;
  for (size_t i = 0; i < text.size(); i++) {
    differing_bits += __builtin_popcount(static_cast<uint8_t>(text[i] ^ flipped[i]));
  }
  EXPECT_EQ(differing_bits, 1);
  EXPECT_EQ(ReadAll(&env, dir.File("f")), text);  // The file itself is intact.
}

TEST(FaultEnv, PowerCutKeepsOnlySyncedDataAndDirEntries) {
  TempDir dir;
  FaultEnv env(Env::Default(), 3);
  std::unique_ptr<WritableFile> durable;
  ASSERT_TRUE(env.NewWritableFile(dir.File("durable"), &durable).ok());
  ASSERT_TRUE(durable->Append(AsBytes("synced")).ok());
  ASSERT_TRUE(durable->Sync().ok());
  ASSERT_TRUE(env.SyncDir(dir.path()).ok());
  ASSERT_TRUE(durable->Append(AsBytes("-lost")).ok());
  std::unique_ptr<WritableFile> fresh;
  ASSERT_TRUE(env.NewWritableFile(dir.File("fresh"), &fresh).ok());
  ASSERT_TRUE(fresh->Append(AsBytes("data")).ok());
  ASSERT_TRUE(fresh->Sync().ok());  // Synced data, but its name was never made durable.

  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_EQ(ReadAll(&env, dir.File("durable")), "synced");
  uint64_t size_bytes = 0;
  EXPECT_EQ(env.GetFileSize(dir.File("fresh"), &size_bytes).code(), StatusCode::kNotFound);
  // Files open across the cut are dead.
  Status status = durable->Append(AsBytes("after"));
  EXPECT_EQ(status.code(), StatusCode::kIOError);
  EXPECT_EQ(ReadAll(&env, dir.File("durable")), "synced");
}

TEST(FaultEnv, UnsyncedRenameIsLostOnPowerCut) {
  TempDir dir;
  FaultEnv env(Env::Default(), 3);
  ASSERT_TRUE(WriteFileDurably(&env, dir.path(), "kept", AsBytes("v1")).ok());
  std::unique_ptr<WritableFile> file;
  ASSERT_TRUE(env.NewWritableFile(dir.File("tmp"), &file).ok());
  ASSERT_TRUE(file->Append(AsBytes("v2")).ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(env.RenameFile(dir.File("tmp"), dir.File("renamed")).ok());
  ASSERT_TRUE(env.PowerCut().ok());
  std::vector<std::string> names;
  ASSERT_TRUE(env.GetChildren(dir.path(), &names).ok());
  EXPECT_EQ(names, std::vector<std::string>{"kept"});
}

}  // namespace
}  // namespace eleven
