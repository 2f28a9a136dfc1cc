#include "cluster/entry.h"

#include <zstd.h>

#include <charconv>
#include <cstring>

#include "base/assert.h"
#include "base/hash.h"
#include "wire/packed.h"

namespace eleven::cluster {

namespace {

uint64_t EntryChecksum(const EntryHead& head, ByteSpan body) {
  const uint64_t seed = Checksum64(&head, offsetof(EntryHead, checksum));
  return Checksum64(body.data(), body.size(), seed);
}

constexpr int kEntryZstdLevel = 1;

}  // namespace

EntryCompressor::EntryCompressor() : context_(ZSTD_createCCtx()) {
  ELEVEN_ASSERT(context_ != nullptr);
  ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(context_), ZSTD_c_compressionLevel,
                         kEntryZstdLevel);
}

EntryCompressor::~EntryCompressor() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(context_)); }

void EncodeEntry(const replica::LogEntry& entry, std::vector<std::byte>* message,
                 EntryCompressor* compressor) {
  EntryHead head{};
  head.magic = kEntryMagic;
  head.version = kEntryVersion;
  head.body_format = kEntryBodyPacked;
  head.op = entry.op;
  head.timestamp_us = entry.timestamp_us;
  head.command_count = entry.command_count;
  size_t body_size = entry.packed.size();
  if (compressor != nullptr && !entry.packed.empty()) {
    message->resize(kEntryHeadSize + ZSTD_compressBound(entry.packed.size()));
    body_size = ZSTD_compress2(static_cast<ZSTD_CCtx*>(compressor->context()),
                               message->data() + kEntryHeadSize, message->size() - kEntryHeadSize,
                               entry.packed.data(), entry.packed.size());
    ELEVEN_ASSERT(!ZSTD_isError(body_size));  // the bound always fits
    head.body_format = kEntryBodyPackedZstd;
  } else {
    message->resize(kEntryHeadSize + body_size);
    if (body_size != 0) {
      std::memcpy(message->data() + kEntryHeadSize, entry.packed.data(), body_size);
    }
  }
  message->resize(kEntryHeadSize + body_size);
  head.checksum = EntryChecksum(head, ByteSpan(message->data() + kEntryHeadSize, body_size));
  std::memcpy(message->data(), &head, kEntryHeadSize);
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
  if ((head->body_format != kEntryBodyPacked && head->body_format != kEntryBodyPackedZstd) ||
      head->reserved != 0) {
    return corrupt("has an unknown body format or reserved bits");
  }
  ByteSpan body = message.subspan(kEntryHeadSize);
  if (EntryChecksum(*head, body) != head->checksum) return corrupt("fails its checksum");
  if (head->op != sequence) {
    return corrupt("holds op " + std::to_string(head->op) +
                   ": the stream's sequence and ops disagree");
  }
  if (head->command_count > command_count_max) {
    return corrupt("holds " + std::to_string(head->command_count) +
                   " commands, more than the batch limit " + std::to_string(command_count_max));
  }
  if (head->body_format == kEntryBodyPackedZstd) {
    // Decompressed into this thread's buffer, no larger than the commands can pack into.
    struct Decompressor {
      ZSTD_DCtx* context = ZSTD_createDCtx();
      std::vector<std::byte> packed;
      ~Decompressor() { ZSTD_freeDCtx(context); }
    };
    thread_local Decompressor d;
    ELEVEN_ASSERT(d.context != nullptr);
    const size_t packed_max = size_t{head->command_count} * wire::kPackedCommandSizeMax;
    const unsigned long long content = ZSTD_getFrameContentSize(body.data(), body.size());
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
        content > packed_max) {
      return corrupt("has a compressed body of no or too large a size");
    }
    d.packed.resize(size_t(content));
    const size_t size =
        ZSTD_decompressDCtx(d.context, d.packed.data(), d.packed.size(), body.data(), body.size());
    if (ZSTD_isError(size) || size != content) {
      return corrupt("has a compressed body that does not decompress");
    }
    body = ByteSpan(d.packed.data(), size);
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
