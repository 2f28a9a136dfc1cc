#include "cluster/jetstream_log.h"

#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>
#include <unordered_map>

#include "base/assert.h"
#include "base/clock.h"

namespace eleven::cluster {

namespace {

constexpr int32_t kMessageSizeMax = 8 << 20;
constexpr int64_t kDuplicateWindowNs = int64_t{120} * 1000 * 1000 * 1000;
constexpr int64_t kAsyncPublishPendingMax = 1 << 16;
constexpr int64_t kEnsureStreamWaitMs = 10000;
constexpr const char* kShapeHeader = "Eleven-Shape";

}  // namespace

std::string StreamName(const std::string& shard) { return "ELEVEN_" + shard; }
std::string SubjectName(const std::string& shard) { return "eleven." + shard + ".log"; }

Status CheckShardName(const std::string& shard) {
  bool ok = !shard.empty() && shard.size() <= 32;
  for (char c : shard)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (!ok)
    return Status::InvalidArgument("a shard name is 1 to 32 of A-Z, a-z, 0-9, _ and -, not \"" +
                                   shard + "\"");
  return Status::Ok();
}

Status EnsureStream(NatsConnection* nats, const std::string& shard, int replicas) {
  ELEVEN_RETURN_IF_ERROR(CheckShardName(shard));
  const std::string name = StreamName(shard);
  const std::string subject = SubjectName(shard);
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Retention = js_LimitsPolicy;
  config.Replicas = replicas;
  config.MaxMsgSize = kMessageSizeMax;
  config.Duplicates = kDuplicateWindowNs;
  jsStreamInfo* info = nullptr;
  // Right after a cluster forms, or while another node creates the stream, JetStream may
  // answer neither call (no meta leader yet; a stream being placed): tried again for a while.
  const uint64_t deadline_ns = MonotonicNs() + uint64_t(kEnsureStreamWaitMs) * 1000000;
  for (;;) {
    jsErrCode code = jsErrCode(0);
    natsStatus s = js_AddStream(&info, nats->js(), &config, nullptr, &code);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(info);
      return Status::Ok();
    }
    const Status created = NatsError(s, "creating stream " + name, code);
    // It exists: it must be the shard's log as this build makes it.
    s = js_GetStreamInfo(&info, nats->js(), name.c_str(), nullptr, &code);
    if (s == NATS_OK) break;
    if (MonotonicNs() > deadline_ns) {
      return NatsError(s, created.message() + "; then its info", code);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const jsStreamConfig* have = info->Config;
  std::string differs;
  if (have->Storage != js_FileStorage) differs += " storage";
  if (have->Replicas != replicas) differs += " replicas (" + std::to_string(have->Replicas) + ")";
  if (have->MaxMsgs > 0 || have->MaxAge > 0 || have->MaxBytes > 0) differs += " limits";
  jsStreamInfo_Destroy(info);
  if (!differs.empty()) {
    return Status::FailedPrecondition("stream " + name + " exists with other settings:" + differs);
  }
  return Status::Ok();
}

JetStreamLog::JetStreamLog(NatsConnection* nats, const JetStreamLogOptions& options)
    : nats_(nats),
      options_(options),
      stream_(StreamName(options.shard)),
      subject_(SubjectName(options.shard)) {
  ELEVEN_ASSERT(nats != nullptr && options.command_count_max > 0 && options.follow_queue_max > 0);
}

JetStreamLog::~JetStreamLog() {
  StopFollowing();
  if (publisher_ != nullptr) jsCtx_Destroy(publisher_);
}

Status JetStreamLog::StreamLastOp(uint64_t* op) const {
  uint64_t first = 0;
  return StreamBounds(&first, op);
}

Status JetStreamLog::StreamBounds(uint64_t* first, uint64_t* last) const {
  jsStreamInfo* info = nullptr;
  jsErrCode code = jsErrCode(0);
  const natsStatus s = js_GetStreamInfo(&info, nats_->js(), stream_.c_str(), nullptr, &code);
  if (s != NATS_OK) return NatsError(s, "stream info of " + stream_, code);
  *first = info->State.FirstSeq;
  *last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  return Status::Ok();
}

Status JetStreamLog::TrimThrough(uint64_t op) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Stream.Purge.Sequence = op + 1;  // up to, not including
  jsErrCode code = jsErrCode(0);
  const natsStatus s = js_PurgeStream(nats_->js(), stream_.c_str(), &options, &code);
  if (s != NATS_OK)
    return NatsError(s, "trimming stream " + stream_ + " through op " + std::to_string(op), code);
  return Status::Ok();
}

Status JetStreamLog::Recover(engine::Engine* engine, const replica::RecoveryProgress& progress,
                             replica::ReplayReport* report) {
  const uint64_t started = MonotonicNs();
  *report = replica::ReplayReport{};
  jsStreamInfo* info = nullptr;
  jsErrCode code = jsErrCode(0);
  const natsStatus s = js_GetStreamInfo(&info, nats_->js(), stream_.c_str(), nullptr, &code);
  if (s != NATS_OK) return NatsError(s, "stream info of " + stream_, code);
  const uint64_t first = info->State.FirstSeq;
  const uint64_t last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  const uint64_t have = engine->last_op();
  if (last == 0) {
    return Status::FailedPrecondition(
        "stream " + stream_ + " is empty: initialize the shard first (eleven cluster init)");
  }
  if (last < have) {
    return Status::FailedPrecondition("stream " + stream_ + " ends at op " + std::to_string(last) +
                                      ", before this replica's state at op " +
                                      std::to_string(have) +
                                      ": the data directory belongs to another stream");
  }
  if (have + 1 <= last && have + 1 < first) {
    return Status::FailedPrecondition(
        "stream " + stream_ + " starts at op " + std::to_string(first) +
        " but this replica's state is at op " + std::to_string(have) +
        ": it needs a snapshot at op " + std::to_string(first - 1) + " or later");
  }
  op_applied_ = have;
  ELEVEN_RETURN_IF_ERROR(Follow(have + 1));
  std::vector<wire::Result> results(options_.command_count_max);
  FollowedEntry entry;
  while (engine->last_op() < last) {
    if (!WaitFollowed(&entry, options_.ack_timeout_ms)) {
      return Status::Unavailable("stream " + stream_ + " delivered nothing after op " +
                                 std::to_string(engine->last_op()) + " for " +
                                 std::to_string(options_.ack_timeout_ms) +
                                 " ms; it holds up to op " + std::to_string(last));
    }
    ELEVEN_RETURN_IF_ERROR(entry.status);
    const auto error = engine->Apply(entry.op, entry.timestamp_us, entry.commands, results);
    if (error != engine::BatchError::kNone) {
      return Status::Corruption(
          "stream " + stream_ + " op " + std::to_string(entry.op) +
          ": the engine refused it as a batch: " + std::string(engine::BatchErrorName(error)));
    }
    NoteApplied(entry);
    report->entries++;
    report->commands += entry.commands.size();
    if (progress && report->entries % 4096 == 0) progress(report->entries);
  }
  report->seconds = double(MonotonicNs() - started) / 1e9;
  if (!options_.local_copy_dir.empty()) return RestoreTail(last);
  return Status::Ok();
}

// The local copy's entries that continue the stream past `last_op` are published again, in
// op order, each fenced as the leader's own are (expected last sequence and message id): the
// stream takes them only if nothing else was written after `last_op`. The rest of the copy
// is then removed; a copy that does not continue the stream is moved aside and named in the
// log (docs/cluster.md, "What an ack means").
Status JetStreamLog::RestoreTail(uint64_t last_op) {
  Env* env = options_.env != nullptr ? options_.env : Env::Default();
  const std::string& dir = options_.local_copy_dir;
  std::vector<CopiedEntry> copied;
  ELEVEN_RETURN_IF_ERROR(LocalCopy::ReadAll(env, dir, &copied));
  if (copied.empty()) return Status::Ok();
  // The id of the stream's last entry: the first copied entry to publish must name it.
  natsMsg* last = nullptr;
  jsErrCode code = jsErrCode(0);
  natsStatus s = js_GetMsg(&last, nats_->js(), stream_.c_str(), last_op, nullptr, &code);
  if (s != NATS_OK) return NatsError(s, "message " + std::to_string(last_op) + " of " + stream_, code);
  const char* last_id = nullptr;
  std::string id = natsMsgHeader_Get(last, "Nats-Msg-Id", &last_id) == NATS_OK && last_id != nullptr ? last_id : "";
  natsMsg_Destroy(last);
  // previous id -> the entry that follows it (of the latest term, if a copy holds two).
  std::unordered_map<std::string, const CopiedEntry*> next;
  uint64_t copied_last_op = 0;
  for (const CopiedEntry& e : copied) {
    copied_last_op = std::max(copied_last_op, e.op);
    auto [it, added] = next.emplace(e.previous_id, &e);
    uint64_t term = 0, op = 0, other_term = 0;
    if (!added && ParseMessageId(e.id, &term, &op) && ParseMessageId(it->second->id, &other_term, &op) &&
        term > other_term) {
      it->second = &e;
    }
  }
  uint64_t op = last_op;
  std::string stopped;
  for (auto it = next.find(id); it != next.end() && it->second->op == op + 1; it = next.find(id)) {
    const CopiedEntry& e = *it->second;
    natsMsg* msg = nullptr;
    s = natsMsg_Create(&msg, subject_.c_str(), nullptr, reinterpret_cast<const char*>(e.message.data()),
                       int(e.message.size()));
    if (s != NATS_OK) return NatsError(s, "entry message");
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MsgId = e.id.c_str();
    options.ExpectLastSeq = op;
    if (!id.empty()) options.ExpectLastMsgId = id.c_str();
    options.MaxWait = options_.ack_timeout_ms;
    jsPubAck* ack = nullptr;
    code = jsErrCode(0);
    s = js_PublishMsg(&ack, nats_->js(), msg, &options, &code);
    natsMsg_Destroy(msg);
    const bool stored = s == NATS_OK && ack != nullptr && !ack->Duplicate && ack->Sequence == e.op;
    jsPubAck_Destroy(ack);
    if (!stored) {
      stopped = "the stream refused entry " + e.id + " (" + natsStatus_GetText(s) +
                (code != 0 ? ", JetStream error " + std::to_string(int(code)) : std::string()) +
                "): another writer wrote after op " + std::to_string(op);
      break;
    }
    op = e.op;
    id = e.id;
    restored_entries_++;
  }
  if (restored_entries_ > 0) {
    std::fprintf(stderr,
                 "eleven serve: stream %s had lost ops %llu..%llu; published them again from the local copy "
                 "in %s\n",
                 stream_.c_str(), static_cast<unsigned long long>(last_op + 1), static_cast<unsigned long long>(op),
                 dir.c_str());
  }
  if (op >= copied_last_op && stopped.empty()) {
    // The stream holds the copy's last op: the copy is spent if it holds the same entry.
    const CopiedEntry* tail = nullptr;
    for (const CopiedEntry& e : copied) {
      if (e.op == copied_last_op) tail = &e;  // the last written, of the latest term
    }
    natsMsg* msg = nullptr;
    code = jsErrCode(0);
    s = js_GetMsg(&msg, nats_->js(), stream_.c_str(), copied_last_op, nullptr, &code);
    const char* held = nullptr;
    const bool same = s == NATS_OK && natsMsgHeader_Get(msg, "Nats-Msg-Id", &held) == NATS_OK &&
                      held != nullptr && tail->id == held;
    natsMsg_Destroy(msg);
    if (same) return LocalCopy::RemoveAll(env, dir);
    // (A stream trimmed past that op no longer says: kept aside too.)
    stopped = "the stream holds another entry at op " + std::to_string(copied_last_op) + " than " + tail->id;
  }
  // Entries the stream does not hold: written and never acknowledged (a term that was
  // refused or stopped), or acknowledged and lost from the stream while another writer went
  // on.
  const std::string aside = dir + ".unrestored-" + std::to_string(op) + "-" + std::to_string(std::time(nullptr));
  ELEVEN_RETURN_IF_ERROR(env->RenameFile(dir, aside));
  std::fprintf(stderr,
               "eleven serve: the local copy holds entries (up to op %llu) that stream %s does not (it ends at "
               "op %llu)%s%s; moved to %s\n",
               static_cast<unsigned long long>(copied_last_op), stream_.c_str(), static_cast<unsigned long long>(op),
               stopped.empty() ? "" : ": ", stopped.c_str(), aside.c_str());
  return Status::Ok();
}

Status JetStreamLog::Follow(uint64_t from_op) {
  ELEVEN_ASSERT(subscription_ == nullptr);
  {
    std::lock_guard<std::mutex> lock(follow_mutex_);
    follow_stopping_ = false;
    op_delivered_ = from_op - 1;
  }
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream_.c_str();
  sub_options.Ordered = true;
  sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
  sub_options.Config.OptStartSeq = from_op;
  jsErrCode code = jsErrCode(0);
  natsStatus s = js_Subscribe(&subscription_, nats_->js(), subject_.c_str(),
                              &JetStreamLog::OnMessage, this, nullptr, &sub_options, &code);
  if (s != NATS_OK) {
    subscription_ = nullptr;
    return NatsError(s, "following stream " + stream_ + " from op " + std::to_string(from_op),
                     code);
  }
  // The queue above bounds what waits; nats.c must not drop what the server sent meanwhile.
  s = natsSubscription_SetPendingLimits(subscription_, -1, -1);
  // Told when nats.c will call OnMessage no more (StopFollowing waits for it).
  if (s == NATS_OK) {
    follow_completed_ = false;
    s = natsSubscription_SetOnCompleteCB(subscription_, &JetStreamLog::OnFollowComplete, this);
  }
  if (s != NATS_OK) return NatsError(s, "pending limits of the stream's consumer");
  return Status::Ok();
}

void JetStreamLog::StopFollowing() {
  if (subscription_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(follow_mutex_);
    follow_stopping_ = true;
  }
  follow_cv_.notify_all();
  // A callback running now sees follow_stopping_ and returns; once nats.c says the
  // subscription completed, none runs or will (bounded, should the connection be gone).
  const bool unsubscribed = natsSubscription_Unsubscribe(subscription_) == NATS_OK;
  {
    std::unique_lock<std::mutex> lock(follow_mutex_);
    if (unsubscribed) {
      follow_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return follow_completed_; });
    }
  }
  natsSubscription_Destroy(subscription_);
  subscription_ = nullptr;
}

void JetStreamLog::OnFollowComplete(void* closure) {
  auto* log = static_cast<JetStreamLog*>(closure);
  {
    std::lock_guard<std::mutex> lock(log->follow_mutex_);
    log->follow_completed_ = true;
  }
  log->follow_cv_.notify_all();
}

void JetStreamLog::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<JetStreamLog*>(closure)->Deliver(msg);
  natsMsg_Destroy(msg);
}

void JetStreamLog::Deliver(natsMsg* msg) {
  FollowedEntry entry;
  jsMsgMetaData* meta = nullptr;
  uint64_t sequence = 0;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  const int size = natsMsg_GetDataLength(msg);
  const ByteSpan data(reinterpret_cast<const std::byte*>(natsMsg_GetData(msg)),
                      size_t(std::max(size, 0)));
  EntryHead head{};
  entry.status =
      sequence == 0
          ? Status::Corruption("stream " + stream_ + " delivered a message without metadata")
          : DecodeEntry(data, sequence, options_.command_count_max, &head, &entry.commands);
  entry.op = sequence;
  entry.bytes = data.size();
  entry.timestamp_us = head.timestamp_us;
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) entry.message_id = id;
  if (entry.status.ok() && sequence == 1 && !options_.shape.empty()) {
    const char* shape = nullptr;
    if (natsMsgHeader_Get(msg, kShapeHeader, &shape) != NATS_OK || shape == nullptr ||
        options_.shape != shape) {
      entry.status = Status::FailedPrecondition(
          "stream " + stream_ +
          " was initialized with another shape than this data directory's:\n" +
          "  stream:    " + (shape != nullptr ? std::string(shape) : std::string("(none)")) +
          "\n  directory: " + options_.shape);
    }
  }
  {
    std::unique_lock<std::mutex> lock(follow_mutex_);
    follow_cv_.wait(
        lock, [&] { return followed_.size() < options_.follow_queue_max || follow_stopping_; });
    if (follow_stopping_) return;
    if (entry.status.ok() && sequence != op_delivered_ + 1) {
      entry.status =
          Status::Corruption("stream " + stream_ + " delivered op " + std::to_string(sequence) +
                             " after op " + std::to_string(op_delivered_));
    }
    op_delivered_ = sequence;
    followed_.push_back(std::move(entry));
    // Under the lock: once StopFollowing has taken it, no callback is running or will run.
    // The callback only wakes a thread (it never blocks).
    if (followed_callback_) followed_callback_();
  }
  follow_cv_.notify_all();
}

bool JetStreamLog::NextFollowed(FollowedEntry* entry) {
  {
    std::lock_guard<std::mutex> lock(follow_mutex_);
    if (followed_.empty()) return false;
    *entry = std::move(followed_.front());
    followed_.pop_front();
  }
  follow_cv_.notify_all();
  return true;
}

bool JetStreamLog::WaitFollowed(FollowedEntry* entry, int64_t timeout_ms) {
  {
    std::unique_lock<std::mutex> lock(follow_mutex_);
    if (!follow_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return !followed_.empty(); })) {
      return false;
    }
    *entry = std::move(followed_.front());
    followed_.pop_front();
  }
  follow_cv_.notify_all();
  return true;
}

void JetStreamLog::set_followed_callback(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(follow_mutex_);
  followed_callback_ = std::move(callback);
}

void JetStreamLog::NoteApplied(const FollowedEntry& entry) {
  op_applied_ = entry.op;
  last_message_id_ = entry.message_id;
  // Applied entries count as written: a follower's snapshots are triggered by them too.
  bytes_written_.fetch_add(entry.bytes, std::memory_order_relaxed);
}

Status JetStreamLog::Lead(uint64_t term) {
  ELEVEN_ASSERT(term != 0 && term_ == 0);
  StopFollowing();
  {
    std::lock_guard<std::mutex> lock(follow_mutex_);
    if (!followed_.empty() || op_delivered_ > op_applied_) {
      return Status::FailedPrecondition(
          "stream " + stream_ + " delivered op " + std::to_string(op_delivered_) +
          " after the lease was taken at op " + std::to_string(op_applied_) +
          ": another writer was still writing");
    }
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options_.ack_timeout_ms;
  js_options.PublishAsync.MaxPending = kAsyncPublishPendingMax;
  js_options.PublishAsync.AckHandler = &JetStreamLog::OnAck;
  js_options.PublishAsync.AckHandlerClosure = this;
  const natsStatus s = natsConnection_JetStream(&publisher_, nats_->nc(), &js_options);
  if (s != NATS_OK) return NatsError(s, "JetStream publisher");
  previous_id_ = last_message_id_;
  first_of_term_ = true;
  if (!options_.local_copy_dir.empty()) {
    ELEVEN_RETURN_IF_ERROR(LocalCopy::Open(options_.env != nullptr ? options_.env : Env::Default(),
                                           options_.local_copy_dir, LocalCopyOptions{}, &copy_));
  }
  term_ = term;
  return Status::Ok();
}

Status JetStreamLog::Append(const replica::LogEntry& entry) {
  ELEVEN_ASSERT(term_ != 0);     // only a leader's replica submits
  ELEVEN_ASSERT(entry.op >= 2);  // op 1 is the genesis entry
  if (options_.compress_entries && compressor_ == nullptr) {
    compressor_ = std::make_unique<EntryCompressor>();
  }
  EncodeEntry(entry, &message_, compressor_.get());
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subject_.c_str(), nullptr,
                     reinterpret_cast<const char*>(message_.data()), int(message_.size()));
  if (s != NATS_OK) return NatsError(s, "entry message");
  const std::string id = MessageId(term_, entry.op);
  if (copy_ != nullptr) {
    const Status copied = copy_->Append(entry.op, id, previous_id_, message_);
    if (!copied.ok()) {
      natsMsg_Destroy(msg);
      std::lock_guard<std::mutex> lock(ack_mutex_);
      if (ack_failure_.ok()) ack_failure_ = copied;
      return ack_failure_;
    }
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = id.c_str();
  options.ExpectLastSeq = entry.op - 1;
  if (!first_of_term_) options.ExpectLastMsgId = previous_id_.c_str();
  options.MaxWait = options_.ack_timeout_ms;
  {
    std::lock_guard<std::mutex> lock(ack_mutex_);
    if (!ack_failure_.ok()) {
      natsMsg_Destroy(msg);
      return ack_failure_;
    }
    published_++;
  }
  s = js_PublishMsgAsync(publisher_, &msg, &options);
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);  // null if the library took it
    const Status failed = NatsError(s, "publishing op " + std::to_string(entry.op));
    std::lock_guard<std::mutex> lock(ack_mutex_);
    if (ack_failure_.ok()) ack_failure_ = failed;
    return ack_failure_;
  }
  previous_id_ = id;
  first_of_term_ = false;
  bytes_written_.fetch_add(message_.size(), std::memory_order_relaxed);
  return Status::Ok();
}

void JetStreamLog::OnAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  static_cast<JetStreamLog*>(closure)->Acked(msg, ack, error);
  natsMsg_Destroy(msg);
}

void JetStreamLog::Acked(natsMsg* msg, jsPubAck* ack, jsPubAckErr* error) {
  const char* id = nullptr;
  uint64_t term = 0;
  uint64_t op = 0;
  const bool parsed = natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr &&
                      ParseMessageId(id, &term, &op);
  Status failure;
  if (!parsed) {
    failure = Status::Corruption("an ack for a message without an entry id");
  } else if (error != nullptr) {
    const std::string what =
        "entry " + std::string(id) + " was refused by stream " + stream_ + ": " +
        (error->ErrText != nullptr ? error->ErrText : natsStatus_GetText(error->Err));
    failure = error->ErrCode != 0
                  ? Status::FailedPrecondition(what + " (JetStream error " +
                                               std::to_string(int(error->ErrCode)) + ")")
                  : Status::Unavailable(what);
  } else if (ack == nullptr) {
    failure = Status::Unavailable("entry " + std::string(id) + ": no ack");
  } else if (ack->Duplicate) {
    failure = Status::FailedPrecondition("entry " + std::string(id) +
                                         " was answered as a duplicate of sequence " +
                                         std::to_string(ack->Sequence));
  } else if (ack->Sequence != op) {
    failure = Status::FailedPrecondition("entry " + std::string(id) + " was stored at sequence " +
                                         std::to_string(ack->Sequence) + ", not at its op");
  }
  {
    std::lock_guard<std::mutex> lock(ack_mutex_);
    if (failure.ok()) {
      acked_++;
    } else if (ack_failure_.ok()) {
      ack_failure_ = failure;
    }
  }
  ack_cv_.notify_all();
}

Status JetStreamLog::Sync() {
  // The local copy's fdatasync runs while the acks travel.
  const Status copied = copy_ != nullptr ? copy_->Sync() : Status::Ok();
  std::unique_lock<std::mutex> lock(ack_mutex_);
  if (!copied.ok() && ack_failure_.ok()) ack_failure_ = copied;
  // Each publish times out by itself (MaxWait); this bound only guards against a lost ack.
  uint64_t acked_before = acked_;
  for (;;) {
    const bool done =
        ack_cv_.wait_for(lock, std::chrono::milliseconds(options_.ack_timeout_ms + 1000),
                         [&] { return acked_ == published_ || !ack_failure_.ok(); });
    if (done) break;
    if (acked_ == acked_before) {
      ack_failure_ = Status::Unavailable(
          "stream " + stream_ + ": no ack for " + std::to_string(options_.ack_timeout_ms + 1000) +
          " ms with " + std::to_string(published_ - acked_) + " entries in flight");
      break;
    }
    acked_before = acked_;
  }
  sync_count_.fetch_add(1, std::memory_order_relaxed);
  return ack_failure_;
}

Status JetStreamLog::Release(uint64_t) {
  // The stream is the shard's: one replica's snapshot does not make its entries unneeded.
  // The leader trims it by every replica's newest snapshot (ClusterNode; docs/cluster.md).
  return Status::Ok();
}

}  // namespace eleven::cluster
