// A JetStream object store bucket, as NATS lays one out (ADR-20; the `nats object` tool and
// the Go client read what this writes): the stream OBJ_<bucket> holds each object's chunks on
// `$O.<bucket>.C.<nuid>` and its description, a JSON document, on
// `$O.<bucket>.M.<base64url(name)>` (rolled up: the last one is the object). nats.c 3.4 has
// no object store API, so these few calls are built from its stream calls: publish, purge,
// last message of a subject, an ordered consumer. The contract is in docs/cluster.md,
// "Published snapshots".
//
// Threads: an ObjectStore holds no state of its own; its calls may run on several threads
// (nats.c's connection is thread-safe). Two puts of one name at once are not ordered.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "cluster/nats.h"
#include "storage/env.h"

namespace eleven::cluster {

inline constexpr uint64_t kObjectChunkSizeBytes = uint64_t{256} << 10;
inline constexpr char kContentEncodingHeader[] = "Content-Encoding";

enum class ObjectEncoding { kIdentity, kZstd };

struct ObjectInfo {
  std::string name;
  std::string nuid;         // names the chunks' subject
  uint64_t size_bytes = 0;  // as stored (compressed, if it is)
  uint64_t chunks = 0;
  std::string digest;                          // "SHA-256=<base64url>"
  std::map<std::string, std::string> headers;  // one value per header
};

class ObjectStore {
 public:
  // Binds to the bucket, creating its stream if it does not exist (file storage, `replicas`,
  // rollups allowed). FailedPrecondition if a stream of that name is not an object store.
  [[nodiscard]] static Status Open(NatsConnection* nats, const std::string& bucket, int replicas,
                                   std::unique_ptr<ObjectStore>* store);

  // The object's description: NotFound if there is none (or it was deleted).
  [[nodiscard]] Status Info(const std::string& name, ObjectInfo* info);

  // Stores the file at `path` as `name` (replacing an object of that name: the new chunks go
  // first, then the description, then the old chunks are purged). kZstd stores the file
  // compressed (one zstd frame with its checksum, level 1) and adds the header
  // `Content-Encoding: zstd`. On failure the chunks published so far are purged and the old
  // object stays.
  [[nodiscard]] Status PutFile(Env* env, const std::string& name, const std::string& path,
                               std::map<std::string, std::string> headers, ObjectEncoding encoding,
                               ObjectInfo* info);

  // Writes the object `name` to `path`, whole or not at all (`<path>.tmp`, synced, renamed,
  // directory synced), after checking its stored size and SHA-256 digest, decompressing it if
  // its Content-Encoding is zstd. *info describes it.
  [[nodiscard]] Status GetFile(Env* env, const std::string& name, const std::string& path,
                               ObjectInfo* info);

  const std::string& stream() const { return stream_; }

 private:
  ObjectStore(NatsConnection* nats, const std::string& bucket);
  std::string MetaSubject(const std::string& name) const;
  std::string ChunkSubject(const std::string& nuid) const;
  Status PurgeSubject(const std::string& subject);

  NatsConnection* nats_;
  std::string bucket_;
  std::string stream_;
};

// RFC 4648 base64 with the URL alphabet and padding (Go's base64.URLEncoding).
std::string Base64Url(const void* data, size_t size);

}  // namespace eleven::cluster
