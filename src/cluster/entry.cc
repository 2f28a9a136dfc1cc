#include "cluster/entry.h"

#include <charconv>
#include <cstring>

#include "base/hash.h"
#include "wire/packed.h"

namespace eleven::cluster {

namespace {

uint64_t EntryChecksum(const EntryHead& head, ByteSpan body) {
  const uint64_t seed = Checksum64(&head, offsetof(EntryHead, checksum));
  return Checksum64(body.data(), body.size(), seed);
}

}  // namespace

void EncodeEntry(const replica::LogEntry& entry, std::vector<std::byte>* message) {
  EntryHead head{};
  head.magic = kEntryMagic;
  head.version = kEntryVersion;
  head.body_format = kEntryBodyPacked;
  head.op = entry.op;
  head.timestamp_us = entry.timestamp_us;
  head.command_count = entry.command_count;
  head.checksum = EntryChecksum(head, entry.packed);
  message->resize(kEntryHeadSize + entry.packed.size());
  std::memcpy(message->data(), &head, kEntryHeadSize);
  if (!entry.packed.empty()) {
    std::memcpy(message->data() + kEntryHeadSize, entry.packed.data(), entry.packed.size());
  }
}

Status DecodeEntry(ByteSpan message, uint64_t sequence, uint32_t command_count_max, EntryHead* head,
                   std::vector<wire::Command>* commands) {
  const auto corrupt = [&](const std::string& what) {
    return Status::Corruption("stream message " + std::to_string(sequence) + " " + what);
  };
  if (message.size() < kEntryHeadSize) return corrupt("is shorter than an entry head");
  std::memcpy(head, message.data(), kEntryHeadSize);
  if (head->magic != kEntryMagic) return corrupt("is not an eleven entry (bad magic)");
  if (head->version != kEntryVersion) {
    return corrupt("has entry version " + std::to_string(head->version) + ", not " +
                   std::to_string(kEntryVersion));
  }
  if (head->body_format != kEntryBodyPacked || head->reserved != 0) {
    return corrupt("has an unknown body format or reserved bits");
  }
  const ByteSpan body = message.subspan(kEntryHeadSize);
  if (EntryChecksum(*head, body) != head->checksum) return corrupt("fails its checksum");
  if (head->op != sequence) {
    return corrupt("holds op " + std::to_string(head->op) +
                   ": the stream's sequence and ops disagree");
  }
  if (head->command_count > command_count_max) {
    return corrupt("holds " + std::to_string(head->command_count) +
                   " commands, more than the batch limit " + std::to_string(command_count_max));
  }
  commands->resize(head->command_count);
  if (!wire::UnpackCommands(body, *commands)) {
    return corrupt("does not hold " + std::to_string(head->command_count) + " packed commands");
  }
  return Status::Ok();
}

std::string MessageId(uint64_t term, uint64_t op) {
  return std::to_string(term) + "-" + std::to_string(op);
}

bool ParseMessageId(std::string_view id, uint64_t* term, uint64_t* op) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos) return false;
  const auto a = std::from_chars(id.data(), id.data() + dash, *term);
  const auto b = std::from_chars(id.data() + dash + 1, id.data() + id.size(), *op);
  return a.ec == std::errc() && a.ptr == id.data() + dash && b.ec == std::errc() &&
         b.ptr == id.data() + id.size();
}

}  // namespace eleven::cluster
