// The object store bucket (docs/cluster.md, "Published snapshots") against a real 3-node
// nats-server cluster: a file goes in chunks and comes back the same; a second put replaces
// the first and purges its chunks; a damaged object is refused and leaves no file.
#include "cluster/object_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "cluster/testing/nats_cluster.h"

namespace eleven::cluster {
namespace {

TEST(Base64Url, Rfc4648VectorsWithTheUrlAlphabet) {
  EXPECT_EQ(Base64Url("", 0), "");
  EXPECT_EQ(Base64Url("f", 1), "Zg==");
  EXPECT_EQ(Base64Url("fo", 2), "Zm8=");
  EXPECT_EQ(Base64Url("foo", 3), "Zm9v");
  EXPECT_EQ(Base64Url("foobar", 6), "Zm9vYmFy");
  const unsigned char high[] = {0xfb, 0xff};
  EXPECT_EQ(Base64Url(high, 2), "-_8=");
  EXPECT_EQ(Base64Url("snapshot", 8), "c25hcHNob3Q=");
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/eleven-object-store-test-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ + "/files");
    ASSERT_TRUE(
        testing::NatsCluster::Start({.nodes = 3, .dir = root_ + "/nats"}, &nats_cluster_).ok());
    ASSERT_TRUE(NatsConnection::Connect({.urls = nats_cluster_->urls()}, &nats_).ok());
    const Status opened = ObjectStore::Open(nats_.get(), "files_t", 3, &store_);
    ASSERT_TRUE(opened.ok()) << opened.ToString();
  }
  void TearDown() override {
    store_.reset();
    nats_.reset();
    nats_cluster_.reset();
    std::filesystem::remove_all(root_);
  }

  std::string WriteFile(const std::string& name, size_t size, uint32_t seed) {
    std::mt19937 random(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    const std::string path = root_ + "/files/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t StreamMessages() {
    jsStreamInfo* info = nullptr;
    EXPECT_EQ(js_GetStreamInfo(&info, nats_->js(), store_->stream().c_str(), nullptr, nullptr),
              NATS_OK);
    const uint64_t count = info->State.Msgs;
    jsStreamInfo_Destroy(info);
    return count;
  }

  std::string root_;
  std::unique_ptr<testing::NatsCluster> nats_cluster_;
  std::unique_ptr<NatsConnection> nats_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ObjectStoreTest, AFileComesBackAsItWentAndASecondPutReplacesTheFirst) {
  ObjectInfo missing;
  EXPECT_EQ(store_->Info("snapshot", &missing).code(), StatusCode::kNotFound);

  // 3 whole chunks and a part of a fourth.
  const size_t size = 3 * kObjectChunkSizeBytes + 12345;
  const std::string first = WriteFile("first", size, 1);
  ObjectInfo put;
  Status s = store_->PutFile(Env::Default(), "snapshot", first, {{"Eleven-Op", "42"}},
                             ObjectEncoding::kIdentity, &put);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(put.chunks, 4u);
  EXPECT_EQ(put.size_bytes, size);
  EXPECT_EQ(put.digest.rfind("SHA-256=", 0), 0u);
  EXPECT_EQ(StreamMessages(), 5u);  // 4 chunks and the description

  ObjectInfo info;
  ASSERT_TRUE(store_->Info("snapshot", &info).ok());
  EXPECT_EQ(info.nuid, put.nuid);
  EXPECT_EQ(info.digest, put.digest);
  EXPECT_EQ(info.chunks, 4u);
  EXPECT_EQ(info.headers["Eleven-Op"], "42");

  const std::string got = root_ + "/files/got";
  s = store_->GetFile(Env::Default(), "snapshot", got, &info);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Read(got), Read(first));
  EXPECT_FALSE(std::filesystem::exists(got + ".tmp"));

  // A smaller second put: the description rolls up, the first object's chunks are purged.
  const std::string second = WriteFile("second", kObjectChunkSizeBytes / 2, 2);
  s = store_->PutFile(Env::Default(), "snapshot", second, {{"Eleven-Op", "99"}},
                      ObjectEncoding::kIdentity, &put);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(StreamMessages(), 2u);
  ASSERT_TRUE(store_->GetFile(Env::Default(), "snapshot", got, &info).ok());
  EXPECT_EQ(Read(got), Read(second));
  EXPECT_EQ(info.headers["Eleven-Op"], "99");

  // An empty file is an object of no chunks.
  const std::string empty = WriteFile("empty", 0, 3);
  ASSERT_TRUE(
      store_->PutFile(Env::Default(), "empty", empty, {}, ObjectEncoding::kIdentity, &put).ok());
  EXPECT_EQ(put.chunks, 0u);
  ASSERT_TRUE(store_->GetFile(Env::Default(), "empty", got, &info).ok());
  EXPECT_EQ(Read(got), "");
}

TEST_F(ObjectStoreTest, ACompressedObjectComesBackAsTheFileItWas) {
  // Mostly zeros, as a snapshot of half-empty tables is: stored much smaller, in chunks.
  const size_t size = 40 * kObjectChunkSizeBytes;
  std::string bytes(size, '\0');
  std::mt19937 random(5);
  for (size_t i = 0; i < size; i += 97) bytes[i] = static_cast<char>(random());
  for (size_t i = size / 2; i < size / 2 + 3 * kObjectChunkSizeBytes; i++) {
    bytes[i] = static_cast<char>(random());  // and an incompressible stretch: several chunks
  }
  const std::string path = root_ + "/files/sparse";
  std::ofstream(path, std::ios::binary) << bytes;
  ObjectInfo put;
  Status s = store_->PutFile(Env::Default(), "sparse", path, {}, ObjectEncoding::kZstd, &put);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(put.headers[kContentEncodingHeader], "zstd");
  EXPECT_LT(put.size_bytes, size / 4);
  EXPECT_GE(put.chunks, 3u);
  const std::string got = root_ + "/files/got";
  ObjectInfo info;
  s = store_->GetFile(Env::Default(), "sparse", got, &info);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(info.headers[kContentEncodingHeader], "zstd");
  EXPECT_EQ(Read(got), bytes);

  const std::string empty = WriteFile("empty", 0, 6);
  ASSERT_TRUE(
      store_->PutFile(Env::Default(), "empty", empty, {}, ObjectEncoding::kZstd, &put).ok());
  ASSERT_TRUE(store_->GetFile(Env::Default(), "empty", got, &info).ok());
  EXPECT_EQ(Read(got), "");
}

TEST_F(ObjectStoreTest, AnObjectMissingChunksIsRefusedAndLeavesNoFile) {
  const std::string path = WriteFile("file", 2 * kObjectChunkSizeBytes, 4);
  ObjectInfo put;
  ASSERT_TRUE(
      store_->PutFile(Env::Default(), "snapshot", path, {}, ObjectEncoding::kIdentity, &put).ok());
  // Its chunks go (as if purged by hand): the description promises what is not there.
  jsOptions options;
  jsOptions_Init(&options);
  const std::string chunks = "$O.files_t.C." + put.nuid;
  options.Stream.Purge.Subject = chunks.c_str();
  ASSERT_EQ(js_PurgeStream(nats_->js(), store_->stream().c_str(), &options, nullptr), NATS_OK);
  const std::string got = root_ + "/files/got";
  ObjectInfo info;
  const Status s = store_->GetFile(Env::Default(), "snapshot", got, &info);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("chunk 0 of 2"), std::string::npos) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(got));
  EXPECT_FALSE(std::filesystem::exists(got + ".tmp"));
}

TEST_F(ObjectStoreTest, AStreamOfThatNameThatIsNoBucketIsRefused) {
  const char* subjects[] = {"other.>"};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = "OBJ_other";
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  ASSERT_EQ(js_AddStream(nullptr, nats_->js(), &config, nullptr, nullptr), NATS_OK);
  std::unique_ptr<ObjectStore> other;
  const Status s = ObjectStore::Open(nats_.get(), "other", 3, &other);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
}

}  // namespace
}  // namespace eleven::cluster
