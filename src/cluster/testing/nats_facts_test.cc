// Facts about nats-server JetStream (and the nats.c client) that eleven's cluster mode relies
// on, each pinned by an assertion against real servers started by NatsCluster, so a
// nats-server that behaves differently fails here first. docs/nats-facts.md says what each
// fact means for eleven. Run alone with: ctest --preset release -R NatsFacts
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/testing/nats_cluster.h"

namespace eleven::cluster::testing {
namespace {

constexpr const char* kMsgId = "Nats-Msg-Id";
constexpr const char* kExpectedLastMsgId = "Nats-Expected-Last-Msg-Id";
constexpr const char* kExpectedLastSequence = "Nats-Expected-Last-Sequence";
constexpr jsErrCode kWrongLastMsgId = JSStreamWrongLastMsgIDErr;        // 10070
constexpr jsErrCode kWrongLastSequence = JSStreamWrongLastSequenceErr;  // 10071
constexpr int64_t kApiWaitMs = 5000;
// A stream leader is elected in 4–7 s on a quiet machine; beside the rest of the suite on two
// cores it has taken over 20 s, so elections are given a minute before a test says none came.
constexpr int64_t kLeaderWaitMs = 60'000;
constexpr int kPipelinedCount = 10;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string LastNatsError() {
  const char* text = nats_GetLastError(nullptr);
  return text != nullptr ? text : "";
}

// A fresh directory for one test's servers, removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/eleven-nats-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) != nullptr) path_ = buffer.data();
  }
  ~ScratchDir() {
    std::error_code error;
    if (!path_.empty()) std::filesystem::remove_all(path_, error);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One connection and its JetStream context. Reconnects to any of `urls` while the test runs.
class Client {
 public:
  explicit Client(const std::string& urls) {
    natsOptions* options = nullptr;
    natsStatus s = natsOptions_Create(&options);
    std::vector<std::string> servers;
    for (size_t start = 0; start <= urls.size();) {
      const size_t comma = std::min(urls.find(',', start), urls.size());
      servers.push_back(urls.substr(start, comma - start));
      start = comma + 1;
    }
    std::vector<const char*> server_pointers;
    for (const std::string& server : servers) server_pointers.push_back(server.c_str());
    if (s == NATS_OK) {
      s = natsOptions_SetServers(options, server_pointers.data(),
                                 static_cast<int>(server_pointers.size()));
    }
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(options, 50);
    if (s == NATS_OK) s = natsConnection_Connect(&connection_, options);
    natsOptions_Destroy(options);
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = kApiWaitMs;
    js_options.PublishAsync.AckHandler = &Client::OnAck;
    js_options.PublishAsync.AckHandlerClosure = this;
    if (s == NATS_OK) s = natsConnection_JetStream(&js_, connection_, &js_options);
    status_ = s;
    if (s != NATS_OK) error_ = LastNatsError();
  }
  ~Client() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(connection_);
  }
  bool ok() const { return status_ == NATS_OK; }
  const std::string& error() const { return error_; }
  natsConnection* connection() const { return connection_; }
  jsCtx* js() const { return js_; }

  // What the server answered one publish.
  struct Ack {
    std::string id;
    bool accepted = false;
    uint64_t sequence = 0;
    bool duplicate = false;
    natsStatus status = NATS_OK;
    jsErrCode code = static_cast<jsErrCode>(0);
    std::string text;
  };

  // Acks of async publishes, in the order the client received them.
  std::vector<Ack> TakeAsyncAcks() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Ack> acks = std::move(async_acks_);
    async_acks_.clear();
    return acks;
  }

 private:
  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Client*>(closure);
    Ack ack;
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, kMsgId, &id) == NATS_OK && id != nullptr) ack.id = id;
    if (pa != nullptr) {
      ack.accepted = true;
      ack.sequence = pa->Sequence;
      ack.duplicate = pa->Duplicate;
    } else if (pae != nullptr) {
      ack.status = pae->Err;
      ack.code = pae->ErrCode;
      ack.text = pae->ErrText != nullptr ? pae->ErrText : "";
    }
    natsMsg_Destroy(msg);
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->async_acks_.push_back(std::move(ack));
  }

  natsStatus status_ = NATS_OK;
  std::string error_;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::mutex mutex_;
  std::vector<Ack> async_acks_;
};

struct Headers {
  std::string id;
  std::optional<std::string> expected_last_id;
  std::optional<uint64_t> expected_last_sequence;
};

natsMsg* MakeMsg(const std::string& subject, const Headers& headers, const std::string& payload) {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, payload.data(),
                                static_cast<int>(payload.size()));
  if (s == NATS_OK && !headers.id.empty()) s = natsMsgHeader_Set(msg, kMsgId, headers.id.c_str());
  if (s == NATS_OK && headers.expected_last_id) {
    s = natsMsgHeader_Set(msg, kExpectedLastMsgId, headers.expected_last_id->c_str());
  }
  if (s == NATS_OK && headers.expected_last_sequence) {
    s = natsMsgHeader_Set(msg, kExpectedLastSequence,
                          std::to_string(*headers.expected_last_sequence).c_str());
  }
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return nullptr;
  }
  return msg;
}

// A synchronous publish; its ack or refusal.
Client::Ack Publish(Client& client, const std::string& subject, const Headers& headers,
                    const std::string& payload = "entry") {
  Client::Ack ack;
  ack.id = headers.id;
  natsMsg* msg = MakeMsg(subject, headers, payload);
  if (msg == nullptr) {
    ack.status = NATS_ERR;
    ack.text = "building the message failed";
    return ack;
  }
  jsPubAck* pa = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ack.status = js_PublishMsg(&pa, client.js(), msg, nullptr, &code);
  if (ack.status == NATS_OK) {
    ack.accepted = true;
    ack.sequence = pa->Sequence;
    ack.duplicate = pa->Duplicate;
  } else {
    ack.code = code;
    ack.text = LastNatsError();
  }
  jsPubAck_Destroy(pa);
  natsMsg_Destroy(msg);
  return ack;
}

// Publishes asynchronously (nothing waits for an ack before the next leaves).
natsStatus PublishAsync(Client& client, const std::string& subject, const Headers& headers) {
  natsMsg* msg = MakeMsg(subject, headers, "entry");
  if (msg == nullptr) return NATS_ERR;
  const natsStatus s = js_PublishMsgAsync(client.js(), &msg, nullptr);
  natsMsg_Destroy(msg);  // no-op when the library took it
  return s;
}

std::string Describe(const Client::Ack& ack) {
  if (ack.accepted) {
    return ack.id + ": accepted seq " + std::to_string(ack.sequence) +
           (ack.duplicate ? " (duplicate)" : "");
  }
  return ack.id + ": refused, status " + natsStatus_GetText(ack.status) + ", code " +
         std::to_string(ack.code) + ", text \"" + ack.text + "\"";
}

// duplicates_window_ms 0: the server's default (2 minutes).
// Waits until `client`'s server routes `subject` to its stream: a stream made through another
// server is known to this one only once the leader's interest has crossed the routes, and a
// publish before that gets "no responders". The probe expects a last sequence the stream
// cannot have, so the stream answers it with 10071 and stores nothing.
void WaitUntilStreamReachable(Client& client, const std::string& subject) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Client::Ack probe;
  while (std::chrono::steady_clock::now() < deadline) {
    probe = Publish(client, subject, {"", std::nullopt, uint64_t{1} << 62});
    if (probe.code == kWrongLastSequence) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "the stream on " << subject << " is not reachable: " << Describe(probe);
}

void AddStream(Client& client, const std::string& name, const std::string& subject, int replicas,
               int64_t duplicates_window_ms = 0) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  const char* subjects[] = {subject.c_str()};
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = replicas;
  config.Duplicates = duplicates_window_ms * 1'000'000;  // nanoseconds
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_AddStream(&info, client.js(), &config, nullptr, &code);
  jsStreamInfo_Destroy(info);
  ASSERT_EQ(s, NATS_OK) << "js_AddStream " << name << ": code " << code << " " << LastNatsError();
}

struct StreamState {
  std::string leader;  // empty: none elected
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  uint64_t messages = 0;
};

std::optional<StreamState> GetStreamState(Client& client, const std::string& name) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = 1000;
  if (js_GetStreamInfo(&info, client.js(), name.c_str(), &options, &code) != NATS_OK) {
    return std::nullopt;
  }
  StreamState state;
  if (info->Cluster != nullptr && info->Cluster->Leader != nullptr)
    state.leader = info->Cluster->Leader;
  state.first_sequence = info->State.FirstSeq;
  state.last_sequence = info->State.LastSeq;
  state.messages = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return state;
}

// Polls until the stream reports a leader other than `not_this` (empty: any leader).
std::optional<StreamState> WaitForStreamLeader(Client& client, const std::string& name,
                                               const std::string& not_this) {
  const int64_t deadline_ms = NowMs() + kLeaderWaitMs;
  while (NowMs() < deadline_ms) {
    const std::optional<StreamState> state = GetStreamState(client, name);
    if (state && !state->leader.empty() && state->leader != not_this) return state;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

int NodeOf(const NatsCluster& cluster, const std::string& server_name) {
  for (int i = 0; i < cluster.nodes(); ++i) {
    if (cluster.server_name(i) == server_name) return i;
  }
  return -1;
}

// The state letter of a process in /proc/<pid>/stat ('S' sleeping, 'T' stopped, ...), or
// '?' if it cannot be read.
char ProcessState(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : '?';
}

class NatsFacts : public ::testing::Test {
 protected:
  void StartCluster(int nodes) {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    NatsClusterOptions options;
    options.nodes = nodes;
    options.dir = dir_.path();
    const int64_t start_ms = NowMs();
    const Status status = NatsCluster::Start(options, &cluster_);
    ASSERT_TRUE(status.ok()) << status.ToString();
    std::printf("%d-node JetStream ready in %lld ms\n", nodes,
                static_cast<long long>(NowMs() - start_ms));
  }
  void SetUp() override { StartCluster(3); }

  ScratchDir dir_;
  std::unique_ptr<NatsCluster> cluster_;
};

// The fixture itself: processes run, die when killed, and come back.
TEST_F(NatsFacts, FixtureKillPauseResumeRestart) {
  ASSERT_EQ(cluster_->nodes(), 3);
  EXPECT_EQ(cluster_->urls(), cluster_->url(0) + "," + cluster_->url(1) + "," + cluster_->url(2));
  const int pid = cluster_->pid(1);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_NE(ProcessState(pid), 'T');
  EXPECT_NE(ProcessState(pid), '?');
  ASSERT_TRUE(cluster_->Pause(1).ok());
  EXPECT_EQ(ProcessState(pid), 'T');
  EXPECT_EQ(cluster_->Pause(1).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(cluster_->Resume(1).ok());
  EXPECT_NE(ProcessState(pid), 'T');
  EXPECT_EQ(cluster_->Restart(1).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(cluster_->Kill(1).ok());
  EXPECT_EQ(cluster_->pid(1), -1);
  EXPECT_NE(::kill(pid, 0), 0) << "killed server still exists";
  EXPECT_EQ(cluster_->Kill(1).code(), StatusCode::kFailedPrecondition);
  const Status restarted = cluster_->Restart(1);
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  EXPECT_GT(cluster_->pid(1), 0);
  EXPECT_NE(cluster_->pid(1), pid);
  // The destructor leaves no process behind, a paused one included.
  ASSERT_TRUE(cluster_->Pause(2).ok());
  std::vector<int> pids;
  for (int i = 0; i < cluster_->nodes(); ++i) pids.push_back(cluster_->pid(i));
  cluster_.reset();
  for (const int p : pids) EXPECT_NE(::kill(p, 0), 0) << "pid " << p << " survived the destructor";
}

// A failing server yields a Status naming it and carrying its log. g. The setting used is
// sync_interval (fsync policy of the store, in nats-server 2.10 and later): 2.9 refuses it,
// so it has no way to fsync every write.
TEST(NatsFactsFixture, StartFailureCarriesLogTailAndSyncIntervalIsRefused) {
  ScratchDir dir;
  NatsClusterOptions options;
  options.nodes = 1;
  options.dir = dir.path();
  options.jetstream_extra_config = "sync_interval: always";
  std::unique_ptr<NatsCluster> cluster;
  const Status status = NatsCluster::Start(options, &cluster);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(cluster, nullptr);
  EXPECT_NE(status.message().find("nats-server n0 exited"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("unknown field \"sync_interval\""), std::string::npos)
      << status.ToString();
  std::printf("%s\n", status.ToString().c_str());
  EXPECT_EQ(NatsCluster::Start(NatsClusterOptions{}, &cluster).code(),
            StatusCode::kInvalidArgument);
}

// a. A deposed writer with entries in flight is fenced by message-id chaining: every one of
// its pipelined entries is refused with 10070. With expected last sequences instead, only
// the first is refused and the rest land after the new writer's entry. Checked on a 3-node
// cluster (R3 streams) and on a single server (R1).
void CheckPipelinedWriterFencing(const NatsCluster& cluster, int replicas) {
  Client a(cluster.url(0));
  Client b(cluster.url(cluster.nodes() - 1));
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  AddStream(a, "FENCE", "fence", replicas);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  WaitUntilStreamReachable(b, "fence");
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  const Client::Ack first = Publish(a, "fence", {"1-1", std::nullopt, std::nullopt});
  ASSERT_TRUE(first.accepted) << Describe(first);
  const Client::Ack takeover = Publish(b, "fence", {"2-2", "1-1", std::nullopt});
  ASSERT_TRUE(takeover.accepted) << Describe(takeover);
  EXPECT_EQ(takeover.sequence, 2u);

  for (int k = 2; k <= kPipelinedCount + 1; ++k) {
    const Headers headers{"1-" + std::to_string(k), "1-" + std::to_string(k - 1), std::nullopt};
    ASSERT_EQ(PublishAsync(a, "fence", headers), NATS_OK) << LastNatsError();
  }
  ASSERT_EQ(js_PublishAsyncComplete(a.js(), nullptr), NATS_OK) << LastNatsError();
  const std::vector<Client::Ack> acks = a.TakeAsyncAcks();
  ASSERT_EQ(acks.size(), static_cast<size_t>(kPipelinedCount));
  for (const Client::Ack& ack : acks) {
    std::printf("chained  %s\n", Describe(ack).c_str());
    EXPECT_FALSE(ack.accepted) << Describe(ack);
    EXPECT_EQ(ack.code, kWrongLastMsgId) << Describe(ack);
    EXPECT_EQ(ack.text, "wrong last msg ID: 2-2") << Describe(ack);
  }
  const std::optional<StreamState> state = GetStreamState(a, "FENCE");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->last_sequence, 2u);

  // The contrast: the same race fenced only by Nats-Expected-Last-Sequence.
  AddStream(a, "SEQFENCE", "seqfence", replicas);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  WaitUntilStreamReachable(b, "seqfence");
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const Client::Ack seq_first = Publish(a, "seqfence", {"1-1", std::nullopt, 0});
  ASSERT_TRUE(seq_first.accepted) << Describe(seq_first);
  const Client::Ack seq_takeover = Publish(b, "seqfence", {"2-2", std::nullopt, 1});
  ASSERT_TRUE(seq_takeover.accepted) << Describe(seq_takeover);
  for (int k = 2; k <= kPipelinedCount + 1; ++k) {
    const Headers headers{"1-" + std::to_string(k), std::nullopt, static_cast<uint64_t>(k - 1)};
    ASSERT_EQ(PublishAsync(a, "seqfence", headers), NATS_OK) << LastNatsError();
  }
  ASSERT_EQ(js_PublishAsyncComplete(a.js(), nullptr), NATS_OK) << LastNatsError();
  const std::vector<Client::Ack> seq_acks = a.TakeAsyncAcks();
  ASSERT_EQ(seq_acks.size(), static_cast<size_t>(kPipelinedCount));
  int refused = 0;
  for (const Client::Ack& ack : seq_acks) {
    std::printf("sequence %s\n", Describe(ack).c_str());
    if (!ack.accepted) {
      ++refused;
      EXPECT_EQ(ack.id, "1-2");
      EXPECT_EQ(ack.code, kWrongLastSequence) << Describe(ack);
      EXPECT_EQ(ack.text, "wrong last sequence: 2") << Describe(ack);
    }
  }
  EXPECT_EQ(refused, 1) << "only the first in-flight entry is refused";
  const std::optional<StreamState> seq_state = GetStreamState(a, "SEQFENCE");
  ASSERT_TRUE(seq_state);
  EXPECT_EQ(seq_state->last_sequence, static_cast<uint64_t>(2 + kPipelinedCount - 1))
      << "the deposed writer's other entries landed after the new writer's";
}

TEST_F(NatsFacts, ChainedMsgIdsFenceEveryPipelinedEntry) {
  CheckPipelinedWriterFencing(*cluster_, 3);
}

TEST(NatsFactsSingleNode, ChainedMsgIdsFenceEveryPipelinedEntry) {
  ScratchDir dir;
  NatsClusterOptions options;
  options.nodes = 1;
  options.dir = dir.path();
  std::unique_ptr<NatsCluster> cluster;
  const Status status = NatsCluster::Start(options, &cluster);
  ASSERT_TRUE(status.ok()) << status.ToString();
  CheckPipelinedWriterFencing(*cluster, 1);
}

// b. What a new stream leader (or a whole restarted cluster) knows of the last message id,
// and whether a writer can chain onto the true last entry by id or by sequence. Both cases
// start from stream LOG holding entries "1-1".."1-5" at sequences 1..5.
void FillLog(Client& client, int64_t duplicates_window_ms = 0) {
  AddStream(client, "LOG", "log", 3, duplicates_window_ms);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  // An empty stream has no last msg id: expecting one is refused, whatever id it names. The
  // first entry of a stream is fenced by Nats-Expected-Last-Sequence 0 instead.
  const Client::Ack on_empty = Publish(client, "log", {"1-1", "1-0", std::nullopt});
  std::printf("empty stream, expecting 1-0: %s\n", Describe(on_empty).c_str());
  EXPECT_FALSE(on_empty.accepted) << Describe(on_empty);
  EXPECT_EQ(on_empty.code, kWrongLastMsgId) << Describe(on_empty);
  EXPECT_NE(on_empty.text.find("wrong last msg ID: "), std::string::npos) << Describe(on_empty);
  const Client::Ack first = Publish(client, "log", {"1-1", std::nullopt, 0});
  ASSERT_TRUE(first.accepted) << Describe(first);
  ASSERT_EQ(first.sequence, 1u);
  for (int k = 2; k <= 5; ++k) {
    const Client::Ack ack = Publish(
        client, "log", {"1-" + std::to_string(k), "1-" + std::to_string(k - 1), std::nullopt});
    ASSERT_TRUE(ack.accepted) << Describe(ack);
  }
}

TEST_F(NatsFacts, LastMsgIdSurvivesStreamLeaderKill) {
  Client client(cluster_->urls());
  ASSERT_TRUE(client.ok()) << client.error();
  FillLog(client);
  ASSERT_FALSE(HasFatalFailure());
  std::optional<StreamState> state = WaitForStreamLeader(client, "LOG", "");
  ASSERT_TRUE(state);
  const int leader = NodeOf(*cluster_, state->leader);
  ASSERT_GE(leader, 0) << state->leader;
  const int64_t kill_ms = NowMs();
  ASSERT_TRUE(cluster_->Kill(leader).ok());
  state = WaitForStreamLeader(client, "LOG", cluster_->server_name(leader));
  ASSERT_TRUE(state) << "no new stream leader";
  std::printf("stream leader %s killed; %s leads after %lld ms\n",
              cluster_->server_name(leader).c_str(), state->leader.c_str(),
              static_cast<long long>(NowMs() - kill_ms));
  EXPECT_EQ(state->last_sequence, 5u);

  // The new leader knows the last id: chaining by id goes on ...
  const Client::Ack after_failover = Publish(client, "log", {"2-6", "1-5", std::nullopt});
  std::printf("after leader kill, expecting 1-5: %s\n", Describe(after_failover).c_str());
  EXPECT_TRUE(after_failover.accepted) << Describe(after_failover);
  EXPECT_EQ(after_failover.sequence, 6u);
  // ... a wrong id is still refused ...
  const Client::Ack wrong = Publish(client, "log", {"2-7", "1-5", std::nullopt});
  EXPECT_FALSE(wrong.accepted) << Describe(wrong);
  EXPECT_EQ(wrong.code, kWrongLastMsgId) << Describe(wrong);
  // ... and an expected last sequence works as well.
  const Client::Ack by_sequence = Publish(client, "log", {"2-7", std::nullopt, 6});
  EXPECT_TRUE(by_sequence.accepted) << Describe(by_sequence);
  EXPECT_EQ(by_sequence.sequence, 7u);
}

TEST_F(NatsFacts, LastMsgIdSurvivesFullRestartWithinDuplicateWindow) {
  Client client(cluster_->urls());
  ASSERT_TRUE(client.ok()) << client.error();
  FillLog(client);
  ASSERT_FALSE(HasFatalFailure());
  // Stopped cleanly: a SIGKILL of every node at once can lose the last acknowledged entries
  // (docs/nats-facts.md), and these facts are about the last id, not that.
  for (int i = 0; i < cluster_->nodes(); ++i) {
    ASSERT_TRUE(cluster_->Stop(i).ok());
  }
  const int64_t restart_ms = NowMs();
  const Status restarted = cluster_->RestartAll();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  const int64_t serving_ms = NowMs();
  const std::optional<StreamState> state = WaitForStreamLeader(client, "LOG", "");
  ASSERT_TRUE(state) << "no stream leader after a full restart";
  std::printf(
      "full restart: JetStream answers on all nodes after %lld ms, stream leader %s after %lld "
      "ms\n",
      static_cast<long long>(serving_ms - restart_ms), state->leader.c_str(),
      static_cast<long long>(NowMs() - restart_ms));
  EXPECT_EQ(state->last_sequence, 5u);

  const Client::Ack after_restart = Publish(client, "log", {"3-6", "1-5", std::nullopt});
  std::printf("after full restart, expecting 1-5: %s\n", Describe(after_restart).c_str());
  EXPECT_TRUE(after_restart.accepted) << Describe(after_restart);
  EXPECT_EQ(after_restart.sequence, 6u);
  const Client::Ack wrong = Publish(client, "log", {"3-7", "1-5", std::nullopt});
  EXPECT_FALSE(wrong.accepted) << Describe(wrong);
  EXPECT_EQ(wrong.code, kWrongLastMsgId) << Describe(wrong);
  const Client::Ack by_sequence = Publish(client, "log", {"3-7", std::nullopt, 6});
  EXPECT_TRUE(by_sequence.accepted) << Describe(by_sequence);
  EXPECT_EQ(by_sequence.sequence, 7u);
  const Client::Ack chained = Publish(client, "log", {"3-8", "3-7", std::nullopt});
  EXPECT_TRUE(chained.accepted) << Describe(chained);
  EXPECT_EQ(chained.sequence, 8u);
}

// After a restart a stream rebuilds its last msg id lazily, from the entries inside its
// duplicate window only (rebuildDedupe in nats-server's stream.go). Once the last entry is
// older than the window, the restarted stream has no last msg id: expecting the true one is
// refused; the expected last sequence is what still works.
TEST_F(NatsFacts, LastMsgIdLostByFullRestartPastDuplicateWindow) {
  constexpr int64_t kDuplicatesWindowMs = 500;
  Client client(cluster_->urls());
  ASSERT_TRUE(client.ok()) << client.error();
  FillLog(client, kDuplicatesWindowMs);
  ASSERT_FALSE(HasFatalFailure());
  const int64_t last_publish_ms = NowMs();
  // Stopped cleanly: a SIGKILL of every node at once can lose the last acknowledged entries
  // (docs/nats-facts.md), and these facts are about the last id, not that.
  for (int i = 0; i < cluster_->nodes(); ++i) {
    ASSERT_TRUE(cluster_->Stop(i).ok());
  }
  // The restart takes seconds, far past the window; checked, not assumed.
  const Status restarted = cluster_->RestartAll();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  const std::optional<StreamState> state = WaitForStreamLeader(client, "LOG", "");
  ASSERT_TRUE(state) << "no stream leader after a full restart";
  ASSERT_GT(NowMs() - last_publish_ms, 2 * kDuplicatesWindowMs);
  EXPECT_EQ(state->last_sequence, 5u);

  const Client::Ack by_id = Publish(client, "log", {"3-6", "1-5", std::nullopt});
  std::printf("full restart past the duplicate window, expecting 1-5: %s\n",
              Describe(by_id).c_str());
  EXPECT_FALSE(by_id.accepted) << Describe(by_id);
  EXPECT_EQ(by_id.code, kWrongLastMsgId) << Describe(by_id);
  EXPECT_TRUE(by_id.text.ends_with("wrong last msg ID: "))
      << "the last id is empty: " << Describe(by_id);
  const Client::Ack by_sequence = Publish(client, "log", {"3-6", std::nullopt, 5});
  std::printf("then expecting last sequence 5: %s\n", Describe(by_sequence).c_str());
  EXPECT_TRUE(by_sequence.accepted) << Describe(by_sequence);
  EXPECT_EQ(by_sequence.sequence, 6u);
  const Client::Ack chained = Publish(client, "log", {"3-7", "3-6", std::nullopt});
  EXPECT_TRUE(chained.accepted) << Describe(chained);
  EXPECT_EQ(chained.sequence, 7u);
}

// c. A message id repeated within the duplicate window is not stored again: the ack says
// Duplicate and carries the sequence of the entry that first had the id.
TEST_F(NatsFacts, RepeatedMsgIdIsDuplicateWithOriginalSequence) {
  Client client(cluster_->url(0));
  ASSERT_TRUE(client.ok()) << client.error();
  AddStream(client, "DUP", "dup", 3);
  ASSERT_FALSE(HasFatalFailure());
  const Client::Ack original = Publish(client, "dup", {"1-1", std::nullopt, std::nullopt});
  ASSERT_TRUE(original.accepted) << Describe(original);
  ASSERT_TRUE(Publish(client, "dup", {"1-2", "1-1", std::nullopt}).accepted);
  ASSERT_TRUE(Publish(client, "dup", {"1-3", "1-2", std::nullopt}).accepted);
  const Client::Ack repeat = Publish(client, "dup", {"1-1", std::nullopt, std::nullopt}, "other");
  std::printf("repeated id: %s\n", Describe(repeat).c_str());
  EXPECT_TRUE(repeat.accepted) << Describe(repeat);
  EXPECT_TRUE(repeat.duplicate);
  EXPECT_EQ(repeat.sequence, original.sequence);
  // With an expected last id that is wrong, the duplicate check still answers first.
  const Client::Ack repeat_chained = Publish(client, "dup", {"1-2", "1-1", std::nullopt});
  std::printf("repeated id with a stale expected last id: %s\n", Describe(repeat_chained).c_str());
  EXPECT_TRUE(repeat_chained.accepted) << Describe(repeat_chained);
  EXPECT_TRUE(repeat_chained.duplicate);
  EXPECT_EQ(repeat_chained.sequence, 2u);
  const std::optional<StreamState> state = GetStreamState(client, "DUP");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->last_sequence, 3u);
  EXPECT_EQ(state->messages, 3u);
}

// d. A key-value bucket as a lease: create-if-absent, compare-and-set on the revision, and
// expiry by the bucket's TTL. Measures how late after the TTL the key can be created again.
TEST_F(NatsFacts, KeyValueLeaseCreateUpdateAndExpiry) {
  constexpr int64_t kTtlMs = 1000;
  constexpr int kExpirySamples = 5;
  constexpr int64_t kExpiryWaitMaxMs = 10'000;
  Client client(cluster_->url(0));
  ASSERT_TRUE(client.ok()) << client.error();
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = "leases";
  config.History = 1;
  config.TTL = kTtlMs * 1'000'000;  // nanoseconds in nats.c 3.4.1 (the stream's MaxAge)
  config.Replicas = 3;
  config.StorageType = js_FileStorage;
  kvStore* kv = nullptr;
  ASSERT_EQ(js_CreateKeyValue(&kv, client.js(), &config), NATS_OK) << LastNatsError();
  std::unique_ptr<kvStore, void (*)(kvStore*)> kv_owner(kv, &kvStore_Destroy);

  uint64_t revision = 0;
  ASSERT_EQ(kvStore_CreateString(&revision, kv, "shard-0", "term 1"), NATS_OK) << LastNatsError();
  EXPECT_GT(revision, 0u);
  uint64_t other = 0;
  const natsStatus again = kvStore_CreateString(&other, kv, "shard-0", "term 2");
  const std::string again_text = LastNatsError();
  std::printf("second create: status %s, \"%s\"\n", natsStatus_GetText(again), again_text.c_str());
  EXPECT_EQ(again, NATS_ERR);
  // (nats.c's error text for it is "wrong last sequence: <revision>", but not always kept:
  // Create looks the key up after the refusal.) The key is as the first create left it.
  kvEntry* held = nullptr;
  ASSERT_EQ(kvStore_Get(&held, kv, "shard-0"), NATS_OK) << LastNatsError();
  EXPECT_EQ(kvEntry_Revision(held), revision);
  EXPECT_STREQ(kvEntry_ValueString(held), "term 1");
  kvEntry_Destroy(held);

  uint64_t renewed = 0;
  ASSERT_EQ(kvStore_UpdateString(&renewed, kv, "shard-0", "term 1", revision), NATS_OK)
      << LastNatsError();
  EXPECT_GT(renewed, revision);
  const natsStatus stale = kvStore_UpdateString(&other, kv, "shard-0", "term 2", revision);
  const std::string stale_text = LastNatsError();
  std::printf("stale update: status %s, \"%s\"\n", natsStatus_GetText(stale), stale_text.c_str());
  EXPECT_EQ(stale, NATS_ERR);
  EXPECT_NE(stale_text.find("wrong last sequence: " + std::to_string(renewed)), std::string::npos);

  // Expiry: nobody renews; poll Get and Create until Create succeeds.
  std::vector<int64_t> late_ms;
  int gets_past_ttl = 0;
  int gets_gone_create_refused = 0;
  for (int sample = 0; sample < kExpirySamples; ++sample) {
    const std::string key = "expiry-" + std::to_string(sample);
    uint64_t created = 0;
    // Measured from before the create is sent: the server stamps the entry after that.
    const int64_t sent_ms = NowMs();
    ASSERT_EQ(kvStore_CreateString(&created, kv, key.c_str(), "x"), NATS_OK) << LastNatsError();
    for (;;) {
      const int64_t now_ms = NowMs();
      ASSERT_LT(now_ms - sent_ms, kExpiryWaitMaxMs) << "key never expired";
      kvEntry* entry = nullptr;
      const natsStatus got = kvStore_Get(&entry, kv, key.c_str());
      kvEntry_Destroy(entry);
      uint64_t recreated = 0;
      const natsStatus create = kvStore_CreateString(&recreated, kv, key.c_str(), "y");
      if (create == NATS_OK) {
        late_ms.push_back(now_ms - sent_ms - kTtlMs);
        break;
      }
      // Get may be answered by a replica (direct get) that expired the key before the stream
      // leader, which decides Create: the two can disagree for a few milliseconds.
      if (got == NATS_NOT_FOUND) ++gets_gone_create_refused;
      if (got == NATS_OK && now_ms - sent_ms > kTtlMs) ++gets_past_ttl;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::vector<int64_t> sorted = late_ms;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "TTL %lld ms: create succeeded again %lld/%lld/%lld ms (min/median/max) after the TTL;"
      " Get returned the entry %d times past the TTL, found nothing while Create was refused"
      " %d times\n",
      static_cast<long long>(kTtlMs), static_cast<long long>(sorted.front()),
      static_cast<long long>(sorted[sorted.size() / 2]), static_cast<long long>(sorted.back()),
      gets_past_ttl, gets_gone_create_refused);
  // Not before the TTL, give or take the clocks (ours truncated to ms at both ends, the
  // server's own timer), and (liveness of a lease) well within a second TTL.
  constexpr int64_t kClockSlackMs = 5;
  EXPECT_GE(sorted.front(), -kClockSlackMs);
  EXPECT_LT(sorted.back(), kTtlMs);
}

// e. Purging up to a sequence keeps the numbering and the last msg id.
TEST_F(NatsFacts, PurgeUpToSequenceKeepsSequenceAndLastMsgId) {
  Client client(cluster_->url(0));
  ASSERT_TRUE(client.ok()) << client.error();
  AddStream(client, "PURGE", "purge", 3);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(Publish(client, "purge", {"1-1", std::nullopt, 0}).accepted);
  for (int k = 2; k <= 5; ++k) {
    const Client::Ack ack = Publish(
        client, "purge", {"1-" + std::to_string(k), "1-" + std::to_string(k - 1), std::nullopt});
    ASSERT_TRUE(ack.accepted) << Describe(ack);
  }
  jsOptions options;
  jsOptions_Init(&options);
  options.Stream.Purge.Sequence = 4;  // removes 1..3
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_PurgeStream(client.js(), "PURGE", &options, &code), NATS_OK)
      << code << " " << LastNatsError();
  std::optional<StreamState> state = GetStreamState(client, "PURGE");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->first_sequence, 4u);
  EXPECT_EQ(state->last_sequence, 5u);
  EXPECT_EQ(state->messages, 2u);
  const Client::Ack next = Publish(client, "purge", {"1-6", "1-5", std::nullopt});
  EXPECT_TRUE(next.accepted) << Describe(next);
  EXPECT_EQ(next.sequence, 6u);
  // Purging everything up to the end keeps both too.
  options.Stream.Purge.Sequence = 7;
  ASSERT_EQ(js_PurgeStream(client.js(), "PURGE", &options, &code), NATS_OK)
      << code << " " << LastNatsError();
  state = GetStreamState(client, "PURGE");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->messages, 0u);
  EXPECT_EQ(state->first_sequence, 7u);
  EXPECT_EQ(state->last_sequence, 6u);
  const Client::Ack after_all = Publish(client, "purge", {"1-7", "1-6", std::nullopt});
  EXPECT_TRUE(after_all.accepted) << Describe(after_all);
  EXPECT_EQ(after_all.sequence, 7u);
  const Client::Ack by_sequence = Publish(client, "purge", {"1-8", std::nullopt, 7});
  EXPECT_TRUE(by_sequence.accepted) << Describe(by_sequence);
  EXPECT_EQ(by_sequence.sequence, 8u);
}

// f. The configured max_payload reaches the client, and an entry above 1 MiB is stored (R3).
TEST_F(NatsFacts, MaxPayloadAndLargeEntry) {
  constexpr size_t kEntryBytes = 1'200'000 + 58'291;  // 1.2 MiB
  Client client(cluster_->url(0));
  ASSERT_TRUE(client.ok()) << client.error();
  EXPECT_EQ(natsConnection_GetMaxPayload(client.connection()), int64_t{8} << 20);
  AddStream(client, "BIG", "big", 3);
  ASSERT_FALSE(HasFatalFailure());
  const std::string payload(kEntryBytes, 'e');
  const Client::Ack ack = Publish(client, "big", {"1-1", std::nullopt, 0}, payload);
  EXPECT_TRUE(ack.accepted) << Describe(ack);
  natsMsg* stored = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetMsg(&stored, client.js(), "BIG", 1, nullptr, &code), NATS_OK) << LastNatsError();
  EXPECT_EQ(natsMsg_GetDataLength(stored), static_cast<int>(kEntryBytes));
  natsMsg_Destroy(stored);
  // Above max_payload the client refuses before sending.
  const std::string too_big((size_t{8} << 20) + 1, 'x');
  const Client::Ack refused = Publish(client, "big", {"1-2", std::nullopt, std::nullopt}, too_big);
  std::printf("above max_payload: %s\n", Describe(refused).c_str());
  EXPECT_FALSE(refused.accepted);
  EXPECT_EQ(refused.status, NATS_MAX_PAYLOAD);
}

// h. An ordered push consumer reads the stream from a start sequence, in order, with the
// stream sequence in the metadata and the headers readable.
TEST_F(NatsFacts, OrderedConsumerFromStartSequence) {
  constexpr int kEntries = 20;
  constexpr uint64_t kStart = 5;
  Client client(cluster_->url(1));
  ASSERT_TRUE(client.ok()) << client.error();
  AddStream(client, "READ", "read", 3);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(Publish(client, "read", {"1-1", std::nullopt, 0}).accepted);
  for (int k = 2; k <= kEntries; ++k) {
    ASSERT_EQ(PublishAsync(client, "read",
                           {"1-" + std::to_string(k), "1-" + std::to_string(k - 1), std::nullopt}),
              NATS_OK);
  }
  ASSERT_EQ(js_PublishAsyncComplete(client.js(), nullptr), NATS_OK);
  for (const Client::Ack& ack : client.TakeAsyncAcks()) ASSERT_TRUE(ack.accepted) << Describe(ack);

  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = "READ";
  options.Ordered = true;
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = kStart;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_SubscribeSync(&sub, client.js(), "read", nullptr, &options, &code), NATS_OK)
      << code << " " << LastNatsError();
  for (uint64_t expected = kStart; expected <= kEntries; ++expected) {
    natsMsg* msg = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&msg, sub, 5000), NATS_OK) << "waiting for seq " << expected;
    jsMsgMetaData* meta = nullptr;
    ASSERT_EQ(natsMsg_GetMetaData(&meta, msg), NATS_OK) << LastNatsError();
    EXPECT_EQ(meta->Sequence.Stream, expected);
    jsMsgMetaData_Destroy(meta);
    const char* id = nullptr;
    ASSERT_EQ(natsMsgHeader_Get(msg, kMsgId, &id), NATS_OK);
    EXPECT_EQ(std::string(id), "1-" + std::to_string(expected));
    const char* expected_last = nullptr;
    ASSERT_EQ(natsMsgHeader_Get(msg, kExpectedLastMsgId, &expected_last), NATS_OK);
    EXPECT_EQ(std::string(expected_last), "1-" + std::to_string(expected - 1));
    natsMsg_Destroy(msg);
  }
  natsMsg* extra = nullptr;
  EXPECT_EQ(natsSubscription_NextMsg(&extra, sub, 200), NATS_TIMEOUT) << "nothing past the end";
  natsMsg_Destroy(extra);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
}

}  // namespace
}  // namespace eleven::cluster::testing
