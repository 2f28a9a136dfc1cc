#include "cluster/object_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <simdjson.h>
#include <zstd.h>

#include <chrono>
#include <ctime>
#include <vector>

#include "base/assert.h"

namespace eleven::cluster {
namespace {

constexpr std::string_view kDigestPrefix = "SHA-256=";
constexpr int64_t kChunkWaitMs = 5000;

// 22 characters of [0-9A-Za-z] from 16 random bytes' worth: a fresh subject for each put.
std::string NewNuid() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char bytes[22];
  ELEVEN_ASSERT(RAND_bytes(bytes, sizeof(bytes)) == 1);
  std::string nuid;
  for (unsigned char b : bytes) nuid.push_back(kAlphabet[b % 62]);
  return nuid;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string NowRfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    ELEVEN_ASSERT(ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1);
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(const void* data, size_t size) {
    ELEVEN_ASSERT(EVP_DigestUpdate(ctx_, data, size) == 1);
  }
  std::string Digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    ELEVEN_ASSERT(EVP_DigestFinal_ex(ctx_, digest, &size) == 1);
    return std::string(kDigestPrefix) + Base64Url(digest, size);
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

std::string Base64Url(const void* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto* in = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    const uint32_t b0 = in[i];
    const uint32_t b1 = i + 1 < size ? in[i + 1] : 0;
    const uint32_t b2 = i + 2 < size ? in[i + 2] : 0;
    const uint32_t v = b0 << 16 | b1 << 8 | b2;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(i + 1 < size ? kAlphabet[v >> 6 & 63] : '=');
    out.push_back(i + 2 < size ? kAlphabet[v & 63] : '=');
  }
  return out;
}

ObjectStore::ObjectStore(NatsConnection* nats, const std::string& bucket)
    : nats_(nats), bucket_(bucket), stream_("OBJ_" + bucket) {}

std::string ObjectStore::MetaSubject(const std::string& name) const {
  return "$O." + bucket_ + ".M." + Base64Url(name.data(), name.size());
}

std::string ObjectStore::ChunkSubject(const std::string& nuid) const {
  return "$O." + bucket_ + ".C." + nuid;
}

Status ObjectStore::Open(NatsConnection* nats, const std::string& bucket, int replicas,
                         std::unique_ptr<ObjectStore>* out) {
  std::unique_ptr<ObjectStore> store(new ObjectStore(nats, bucket));
  const std::string chunks = "$O." + bucket + ".C.>";
  const std::string metas = "$O." + bucket + ".M.>";
  const char* subjects[] = {chunks.c_str(), metas.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = store->stream_.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 2;
  config.Storage = js_FileStorage;
  config.Replicas = replicas;
  config.Discard = js_DiscardNew;
  config.AllowRollup = true;
  config.AllowDirect = true;
  jsStreamInfo* info = nullptr;
  jsErrCode code = jsErrCode(0);
  natsStatus s = js_AddStream(&info, nats->js(), &config, nullptr, &code);
  if (s != NATS_OK) {
    // It exists (or another node made it just now): it must take this bucket's subjects.
    s = js_GetStreamInfo(&info, nats->js(), store->stream_.c_str(), nullptr, &code);
    if (s != NATS_OK) return NatsError(s, "object store bucket " + bucket, code);
    const bool rollup = info->Config->AllowRollup;
    const bool subjects_match = info->Config->SubjectsLen == 2 &&
                                info->Config->Subjects[0] == chunks &&
                                info->Config->Subjects[1] == metas;
    jsStreamInfo_Destroy(info);
    if (!rollup || !subjects_match) {
      return Status::FailedPrecondition("stream " + store->stream_ +
                                        " exists but is not the object store bucket " + bucket);
    }
  } else {
    jsStreamInfo_Destroy(info);
  }
  *out = std::move(store);
  return Status::Ok();
}

Status ObjectStore::Info(const std::string& name, ObjectInfo* info) {
  *info = ObjectInfo{};
  natsMsg* msg = nullptr;
  jsErrCode code = jsErrCode(0);
  const std::string subject = MetaSubject(name);
  const natsStatus s =
      js_GetLastMsg(&msg, nats_->js(), stream_.c_str(), subject.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND) return Status::NotFound("no object " + name + " in " + bucket_);
  if (s != NATS_OK) return NatsError(s, "object " + name + " of " + bucket_, code);
  const simdjson::padded_string json(natsMsg_GetData(msg), size_t(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Status::Corruption("object " + name + " of " + bucket_ +
                              ": its description is not a JSON object");
  }
  bool deleted = false;
  if (doc["deleted"].get(deleted) == simdjson::SUCCESS && deleted) {
    return Status::NotFound("object " + name + " of " + bucket_ + " was deleted");
  }
  std::string_view text;
  const auto field = [&](const char* key) -> bool {
    return doc[key].get(text) == simdjson::SUCCESS;
  };
  if (!field("name")) return Status::Corruption("object description without a name");
  info->name = text;
  if (!field("nuid")) return Status::Corruption("object " + name + ": description without nuid");
  info->nuid = text;
  if (!field("digest"))
    info->digest.clear();
  else
    info->digest = text;
  uint64_t number = 0;
  if (doc["size"].get(number) == simdjson::SUCCESS) info->size_bytes = number;
  if (doc["chunks"].get(number) == simdjson::SUCCESS) info->chunks = number;
  simdjson::dom::object headers;
  if (doc["headers"].get(headers) == simdjson::SUCCESS) {
    for (auto [key, value] : headers) {
      simdjson::dom::array values;
      std::string_view first;
      if (value.get(values) == simdjson::SUCCESS && values.size() > 0 &&
          values.at(0).get(first) == simdjson::SUCCESS) {
        info->headers[std::string(key)] = std::string(first);
      }
    }
  }
  return Status::Ok();
}

Status ObjectStore::PurgeSubject(const std::string& subject) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Stream.Purge.Subject = subject.c_str();
  jsErrCode code = jsErrCode(0);
  const natsStatus s = js_PurgeStream(nats_->js(), stream_.c_str(), &options, &code);
  if (s != NATS_OK) return NatsError(s, "purging " + subject, code);
  return Status::Ok();
}

Status ObjectStore::PutFile(Env* env, const std::string& name, const std::string& path,
                            std::map<std::string, std::string> headers, ObjectEncoding encoding,
                            ObjectInfo* info) {
  ObjectInfo old;
  const Status had = Info(name, &old);
  if (!had.ok() && had.code() != StatusCode::kNotFound) return had;
  std::unique_ptr<SequentialFile> file;
  ELEVEN_RETURN_IF_ERROR(env->NewSequentialFile(path, &file));
  if (encoding == ObjectEncoding::kZstd) headers[kContentEncodingHeader] = "zstd";
  *info = ObjectInfo{.name = name, .nuid = NewNuid(), .headers = headers};
  const std::string chunk_subject = ChunkSubject(info->nuid);
  const auto fail = [&](Status s) {
    (void)PurgeSubject(chunk_subject);  // best effort: the old object stays either way
    return s;
  };
  Sha256 sha;
  std::string chunk;  // the stored bytes not yet published
  const auto publish = [&](size_t size) -> Status {
    sha.Update(chunk.data(), size);
    jsPubAck* ack = nullptr;
    jsErrCode code = jsErrCode(0);
    const natsStatus s = js_Publish(&ack, nats_->js(), chunk_subject.c_str(), chunk.data(),
                                    int(size), nullptr, &code);
    if (ack != nullptr) jsPubAck_Destroy(ack);
    if (s != NATS_OK) {
      return NatsError(
          s, "publishing chunk " + std::to_string(info->chunks) + " of " + name + " to " + bucket_,
          code);
    }
    info->chunks++;
    info->size_bytes += size;
    chunk.erase(0, size);
    return Status::Ok();
  };
  // Stored bytes go out in whole chunks; the last one may be short.
  const auto store = [&](const void* data, size_t size, bool last) -> Status {
    chunk.append(static_cast<const char*>(data), size);
    while (chunk.size() >= kObjectChunkSizeBytes) {
      ELEVEN_RETURN_IF_ERROR(publish(kObjectChunkSizeBytes));
    }
    if (last && !chunk.empty()) return publish(chunk.size());
    return Status::Ok();
  };
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> zstd(nullptr, &ZSTD_freeCCtx);
  if (encoding == ObjectEncoding::kZstd) {
    zstd.reset(ZSTD_createCCtx());
    ELEVEN_ASSERT(zstd != nullptr);
    ZSTD_CCtx_setParameter(zstd.get(), ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(zstd.get(), ZSTD_c_checksumFlag, 1);
  }
  std::vector<char> in(kObjectChunkSizeBytes * 4);
  std::vector<char> out(ZSTD_CStreamOutSize());
  for (bool last = false; !last;) {
    size_t filled = 0;
    size_t read = 0;
    do {  // a whole buffer, unless the file ends
      Status s =
          file->Read(in.size() - filled, reinterpret_cast<std::byte*>(in.data()) + filled, &read);
      if (!s.ok()) return fail(s);
      filled += read;
    } while (read > 0 && filled < in.size());
    last = filled < in.size();
    if (!zstd) {
      Status s = store(in.data(), filled, last);
      if (!s.ok()) return fail(s);
      continue;
    }
    ZSTD_inBuffer input{in.data(), filled, 0};
    for (bool done = false; !done;) {
      ZSTD_outBuffer output{out.data(), out.size(), 0};
      const size_t left =
          ZSTD_compressStream2(zstd.get(), &output, &input, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) {
        return fail(Status::IOError("compressing " + path + ": " + ZSTD_getErrorName(left)));
      }
      done = last ? left == 0 : input.pos == input.size;
      Status s = store(out.data(), output.pos, last && done);
      if (!s.ok()) return fail(s);
    }
  }
  info->digest = sha.Digest();
  std::string json =
      "{\"name\":" + JsonString(name) + ",\"bucket\":" + JsonString(bucket_) +
      ",\"nuid\":" + JsonString(info->nuid) + ",\"size\":" + std::to_string(info->size_bytes) +
      ",\"chunks\":" + std::to_string(info->chunks) + ",\"mtime\":" + JsonString(NowRfc3339()) +
      ",\"digest\":" + JsonString(info->digest) +
      ",\"options\":{\"max_chunk_size\":" + std::to_string(kObjectChunkSizeBytes) +
      "},\"headers\":{";
  bool first = true;
  for (const auto& [key, value] : headers) {
    if (!first) json += ",";
    first = false;
    json += JsonString(key) + ":[" + JsonString(value) + "]";
  }
  json += "}}";
  natsMsg* msg = nullptr;
  const std::string meta_subject = MetaSubject(name);
  natsStatus s = natsMsg_Create(&msg, meta_subject.c_str(), nullptr, json.data(), int(json.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Rollup", "sub");
  jsPubAck* ack = nullptr;
  jsErrCode code = jsErrCode(0);
  if (s == NATS_OK) s = js_PublishMsg(&ack, nats_->js(), msg, nullptr, &code);
  if (ack != nullptr) jsPubAck_Destroy(ack);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) return fail(NatsError(s, "publishing the description of " + name, code));
  if (had.ok()) {
    const Status purged = PurgeSubject(ChunkSubject(old.nuid));
    if (!purged.ok()) return purged;  // the new object stands; the old chunks linger
  }
  return Status::Ok();
}

Status ObjectStore::GetFile(Env* env, const std::string& name, const std::string& path,
                            ObjectInfo* info) {
  ELEVEN_RETURN_IF_ERROR(Info(name, info));
  const auto encoding = info->headers.find(kContentEncodingHeader);
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> zstd(nullptr, &ZSTD_freeDCtx);
  if (encoding != info->headers.end()) {
    if (encoding->second != "zstd") {
      return Status::FailedPrecondition("object " + name + " of " + bucket_ + " is encoded " +
                                        encoding->second + "; this build reads zstd");
    }
    zstd.reset(ZSTD_createDCtx());
    ELEVEN_ASSERT(zstd != nullptr);
  }
  const std::string temp = path + ".tmp";
  std::unique_ptr<WritableFile> file;
  ELEVEN_RETURN_IF_ERROR(env->NewWritableFile(temp, &file));
  const auto fail = [&](Status s) {
    file.reset();
    (void)env->RemoveFile(temp);
    return s;
  };
  natsSubscription* sub = nullptr;
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Ordered = true;
  jsErrCode code = jsErrCode(0);
  const std::string chunk_subject = ChunkSubject(info->nuid);
  if (info->chunks > 0) {
    const natsStatus s =
        js_SubscribeSync(&sub, nats_->js(), chunk_subject.c_str(), nullptr, &sub_options, &code);
    if (s != NATS_OK) return fail(NatsError(s, "reading the chunks of " + name, code));
  }
  Sha256 sha;
  uint64_t size = 0;
  size_t frame_left = 0;  // zstd: what the frame still needs (0 once it is whole)
  std::vector<std::byte> out(zstd ? ZSTD_DStreamOutSize() : 0);
  Status status = Status::Ok();
  for (uint64_t i = 0; i < info->chunks && status.ok(); i++) {
    natsMsg* msg = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&msg, sub, kChunkWaitMs);
    if (s != NATS_OK) {
      status = NatsError(
          s, "chunk " + std::to_string(i) + " of " + std::to_string(info->chunks) + " of " + name);
      break;
    }
    const auto* data = reinterpret_cast<const std::byte*>(natsMsg_GetData(msg));
    const size_t length = size_t(natsMsg_GetDataLength(msg));
    sha.Update(data, length);
    size += length;
    if (!zstd) {
      status = file->Append(ByteSpan(data, length));
    } else {
      ZSTD_inBuffer input{data, length, 0};
      while (status.ok() && input.pos < input.size) {
        ZSTD_outBuffer output{out.data(), out.size(), 0};
        frame_left = ZSTD_decompressStream(zstd.get(), &output, &input);
        if (ZSTD_isError(frame_left)) {
          status = Status::Corruption("object " + name + " of " + bucket_ + ", chunk " +
                                      std::to_string(i) + ": " + ZSTD_getErrorName(frame_left));
        } else {
          status = file->Append(ByteSpan(out.data(), output.pos));
        }
      }
    }
    natsMsg_Destroy(msg);
  }
  if (sub != nullptr) {
    (void)natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  if (!status.ok()) return fail(status);
  if (size != info->size_bytes) {
    return fail(Status::Corruption("object " + name + " of " + bucket_ + ": " +
                                   std::to_string(size) + " bytes read, its description says " +
                                   std::to_string(info->size_bytes)));
  }
  const std::string digest = sha.Digest();
  if (digest != info->digest) {
    return fail(Status::Corruption("object " + name + " of " + bucket_ + ": digest " + digest +
                                   ", its description says " + info->digest));
  }
  if (zstd && (frame_left != 0 || size == 0)) {
    return fail(
        Status::Corruption("object " + name + " of " + bucket_ + ": its zstd frame ends early"));
  }
  status = file->Sync();
  if (status.ok()) status = file->Close();
  if (!status.ok()) return fail(status);
  file.reset();
  ELEVEN_RETURN_IF_ERROR(env->RenameFile(temp, path));
  const size_t slash = path.find_last_of('/');
  return env->SyncDir(slash == std::string::npos ? "." : path.substr(0, slash));
}

}  // namespace eleven::cluster
