#include "storage/data_dir.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/test_util.h"

namespace eleven {
namespace {

using testing::AsBytes;
using testing::RewriteIdentityVersion;
using testing::TempDir;

constexpr DataDirId kId{0x1111, 0x2222};
const std::vector<ManifestEntry> kManifest = {{"engine.skus_max", "4096"},
                                              {"ledger.enabled", "false"}};

TEST(DataDir, FormatThenOpen) {
  TempDir parent;
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  std::unique_ptr<DataDir> dir;
  Status status = DataDir::Open(Env::Default(), path, &dir);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(dir->id(), kId);
  EXPECT_EQ(dir->format_version(), kDataDirFormatVersion);
  EXPECT_EQ(dir->path(), path);
}

TEST(DataDir, FormatRefusesANonEmptyDirectory) {
  TempDir parent;
  ASSERT_TRUE(WriteFileDurably(Env::Default(), parent.path(), "stuff", AsBytes("x")).ok());
  Status status = DataDir::Format(Env::Default(), parent.path(), kId, kManifest);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find(parent.path() + " is not empty"), std::string::npos)
      << status.ToString();
  // Formatting twice is refused as well.
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  EXPECT_EQ(DataDir::Format(Env::Default(), path, kId, kManifest).code(),
            StatusCode::kFailedPrecondition);
}

TEST(DataDir, OpenRefusesMissingAndDamagedDirectories) {
  TempDir parent;
  std::unique_ptr<DataDir> dir;
  Status status = DataDir::Open(Env::Default(), parent.File("nothing"), &dir);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("not formatted"), std::string::npos) << status.ToString();
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  ASSERT_TRUE(WriteFileDurably(Env::Default(), path, kDataDirIdentityName,
                               AsBytes(std::string(64, 'z'))).ok());
  status = DataDir::Open(Env::Default(), path, &dir);
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
}

TEST(DataDir, AVersionOneDirectoryOpensAndIsUpgradedOnRequest) {
  TempDir parent;
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  RewriteIdentityVersion(path, 1);
  {
    std::unique_ptr<DataDir> dir;
    ASSERT_TRUE(DataDir::Open(Env::Default(), path, &dir).ok());
    EXPECT_EQ(dir->format_version(), 1);
    ASSERT_TRUE(dir->Upgrade(Env::Default()).ok());
    EXPECT_EQ(dir->format_version(), kDataDirFormatVersion);
    EXPECT_EQ(dir->id(), kId);
  }
  std::unique_ptr<DataDir> dir;
  ASSERT_TRUE(DataDir::Open(Env::Default(), path, &dir).ok());
  EXPECT_EQ(dir->format_version(), kDataDirFormatVersion);  // durable
  EXPECT_EQ(dir->id(), kId);
}

TEST(DataDir, FormatWritesTheManifestBeforeTheIdentity) {
  TempDir parent;
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  std::vector<ManifestEntry> read;
  const Status status = ReadManifest(Env::Default(), path, &read);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(read, kManifest);
}

// A directory from before manifests (version 2, no MANIFEST) is given one by Adopt, once.
TEST(DataDir, AdoptGivesAnOlderDirectoryItsManifestOnce) {
  TempDir parent;
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  ASSERT_TRUE(Env::Default()->RemoveFile(JoinPath(path, kManifestName)).ok());
  RewriteIdentityVersion(path, 2);
  {
    std::unique_ptr<DataDir> dir;
    ASSERT_TRUE(DataDir::Open(Env::Default(), path, &dir).ok());
    std::vector<ManifestEntry> read;
    EXPECT_EQ(ReadManifest(Env::Default(), path, &read).code(), StatusCode::kNotFound);
    const Status adopted = dir->Adopt(Env::Default(), kManifest);
    ASSERT_TRUE(adopted.ok()) << adopted.ToString();
    EXPECT_EQ(dir->format_version(), kDataDirFormatVersion);
    const Status again = dir->Adopt(Env::Default(), kManifest);
    EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.ToString();
  }
  std::unique_ptr<DataDir> dir;
  ASSERT_TRUE(DataDir::Open(Env::Default(), path, &dir).ok());
  EXPECT_EQ(dir->format_version(), kDataDirFormatVersion);
  std::vector<ManifestEntry> read;
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &read).ok());
  EXPECT_EQ(read, kManifest);
}

TEST(DataDir, AVersionFromTheFutureIsRefused) {
  TempDir parent;
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  RewriteIdentityVersion(path, kDataDirFormatVersion + 1);
  std::unique_ptr<DataDir> dir;
  const Status status = DataDir::Open(Env::Default(), path, &dir);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("format version " + std::to_string(kDataDirFormatVersion + 1)),
            std::string::npos)
      << status.ToString();
}

// The lock is an flock, so it holds against another process. Pipes order the two processes;
// no sleeps.
TEST(DataDir, SecondOpenerInAnotherProcessIsBusy) {
  TempDir parent;
  const std::string path = parent.File("data");
  ASSERT_TRUE(DataDir::Format(Env::Default(), path, kId, kManifest).ok());
  std::unique_ptr<DataDir> dir;
  ASSERT_TRUE(DataDir::Open(Env::Default(), path, &dir).ok());

  // A child process tries while we hold the lock.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::unique_ptr<DataDir> other;
    Status status = DataDir::Open(Env::Default(), path, &other);
    bool busy = status.code() == StatusCode::kBusy &&
                status.message() == "data directory " + path + " is in use by another process";
    ::_exit(busy ? 0 : 1);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0) << "the child could open a locked data directory";

  // A second opener in this process is refused too; after release it can open.
  std::unique_ptr<DataDir> again;
  EXPECT_EQ(DataDir::Open(Env::Default(), path, &again).code(), StatusCode::kBusy);
  dir.reset();
  EXPECT_TRUE(DataDir::Open(Env::Default(), path, &again).ok());
  again.reset();

  // And the other way round: the child holds it until we have tried.
  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::unique_ptr<DataDir> held;
    char byte = DataDir::Open(Env::Default(), path, &held).ok() ? 'y' : 'n';
    if (::write(to_parent[1], &byte, 1) != 1) ::_exit(2);
    if (::read(to_child[0], &byte, 1) != 1) ::_exit(3);
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(to_parent[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  Status status = DataDir::Open(Env::Default(), path, &again);
  EXPECT_EQ(status.code(), StatusCode::kBusy);
  EXPECT_EQ(status.message(), "data directory " + path + " is in use by another process");
  ASSERT_EQ(::write(to_child[1], &byte, 1), 1);
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  EXPECT_TRUE(DataDir::Open(Env::Default(), path, &again).ok());  // Released when it exited.
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
}

}  // namespace
}  // namespace eleven
