#include "cluster/init.h"

#include <vector>

#include "cluster/jetstream_log.h"
#include "cluster/node.h"
#include "replica/replay.h"
#include "replica/shape.h"
#include "storage/journal.h"

namespace eleven::cluster {

Status InitShard(NatsConnection* nats, const std::string& shard, int replicas, Env* env,
                 const std::string& dir) {
  ELEVEN_RETURN_IF_ERROR(CheckShardName(shard));
  replica::DataShape shape;
  ELEVEN_RETURN_IF_ERROR(replica::ReadDataShape(env, dir, &shape));
  std::unique_ptr<JournalReader> reader;
  ELEVEN_RETURN_IF_ERROR(JournalReader::Open(env, dir, 1, &reader, 1));
  JournalEntry entry;
  bool done = false;
  ELEVEN_RETURN_IF_ERROR(reader->Next(&entry, &done));
  std::vector<wire::Command> commands;
  if (!done && entry.op == 1) {
    ELEVEN_RETURN_IF_ERROR(
        replica::EntryCommands(entry, shape.engine.batch_command_count_max, &commands));
  }
  if (done || entry.op != 1 || commands.size() != 1 || commands[0].operation != wire::kCreateKey ||
      entry.body_format != static_cast<uint16_t>(replica::BodyFormat::kPacked)) {
    return Status::FailedPrecondition(dir +
                                      " does not start with the first operator key: format it with "
                                      "`eleven format` (and --key-file) and nothing else");
  }
  ELEVEN_RETURN_IF_ERROR(EnsureStream(nats, shard, replicas));
  std::vector<std::byte> message;
  EncodeEntry(
      replica::LogEntry{
          .op = 1, .timestamp_us = entry.timestamp_us, .command_count = 1, .packed = entry.body},
      &message);
  natsMsg* msg = nullptr;
  const std::string subject = SubjectName(shard);
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr,
                                reinterpret_cast<const char*>(message.data()), int(message.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Eleven-Shape", ShapeHeader(shape).c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return NatsError(s, "genesis message");
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = "genesis";
  options.ExpectNoMessage = true;  // only into an empty stream
  jsPubAck* ack = nullptr;
  jsErrCode code = jsErrCode(0);
  s = js_PublishMsg(&ack, nats->js(), msg, &options, &code);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) {
    if (code == JSStreamWrongLastSequenceErr) {
      return Status::FailedPrecondition("shard " + shard + " is initialized already (stream " +
                                        StreamName(shard) + " holds entries); nothing was written");
    }
    return NatsError(s, "publishing the genesis entry of shard " + shard, code);
  }
  const bool duplicate = ack->Duplicate;
  const uint64_t sequence = ack->Sequence;
  jsPubAck_Destroy(ack);
  if (duplicate || sequence != 1) {
    return Status::FailedPrecondition("shard " + shard +
                                      " is initialized already (its genesis is at sequence " +
                                      std::to_string(sequence) + "); nothing was written");
  }
  return Status::Ok();
}

}  // namespace eleven::cluster
