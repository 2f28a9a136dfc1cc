// The server's configuration: addresses and every limit, read from a TOML file (all keys
// optional; see docs/server.md for the file and the defaults), then overridden by flags.
// The state-shaping part (engine, clock, ledger, fulfilment) belongs to the data directory:
// Server::Open takes it from the directory's manifest and refuses a key given in the file or
// by a flag (shape_given) that contradicts it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "client/protocol.h"
#include "engine/engine.h"
#include "replica/shape.h"
#include "server/rate_limit.h"

namespace eleven::server {

// [tls] (docs/server.md, "TLS"): TLS for the listeners it names, with OpenSSL; TLS 1.2 at
// least. Files are PEM. With client_ca_file, clients are asked for a certificate: one signed
// by that CA is verified (else the handshake fails), none is allowed, and a verified one whose
// subject CN is "eleven-key-<id>" names API key <id> (tls::KeyIdOfPeer).
struct TlsConfig {
  bool enabled = false;        // a [tls] table was given
  std::string cert_file;       // the server's certificate chain, leaf first
  std::string key_file;        // its private key
  std::string client_ca_file;  // "" = no client certificates asked for
  bool binary = true;          // the binary protocol listener speaks TLS
  bool http = true;            // the HTTP listener speaks TLS
};

struct ServerConfig {
  std::string data_dir;
  std::string listen = "127.0.0.1:7011";  // binary protocol; "" = off
  std::string http = "127.0.0.1:7080";    // HTTP/JSON and feeds; "" = off
  engine::EngineConfig engine;
  // Batch timestamps: the wall clock, or set by clients with set_clock (simulation and
  // replays only: a client could then move the log's time at will).
  protocol::ClockMode clock = protocol::ClockMode::kWall;
  // Wall-clock mode: an idle server writes a tick at most this long after something fell due
  // (expiry, drop window, timeout; EngineLoop, "Ticks"). 1..60000. Does not shape state.
  uint32_t tick_ms = 100;
  // The state-shaping keys (manifest keys) given explicitly, and where; engine and clock
  // values of keys not listed here are not used: Server::Open takes the manifest's.
  std::vector<replica::ShapeKeySource> shape_given;
  uint64_t staging_size_bytes = uint64_t{32} << 20;
  // A snapshot is taken (in the background) once this many journal bytes were written since
  // the last one; older journal segments are then removed. 0 = never.
  uint64_t snapshot_journal_bytes = uint64_t{4} << 30;
  // Who writes it (replica/replica.h, ReplicaOptions::SnapshotMode): "follower", a second
  // copy of the state that follows the journal (twice the memory, no stall), or "fork".
  bool snapshot_follower = true;
  int snapshot_follower_nice = 10;
  // The follower writes its snapshot in slices of this size, each written back to the
  // device before the next, at most this fast (0 = unpaced): the journal's syncs share the
  // device.
  uint64_t snapshot_slice_bytes = uint64_t{1} << 20;
  uint64_t snapshot_write_bytes_per_second = uint64_t{200} << 20;
  // Journal segments: their size, and whether a new journal's first segment is prepared
  // (zero-filled) at start-up so that syncs write over existing blocks; later segments are
  // written over recycled ones (storage/journal.h, JournalOptions).
  uint64_t journal_segment_bytes = uint64_t{256} << 20;
  bool journal_prepare_segments = true;

  // Access (docs/access.md): requests without a key act as the local operator. Only for
  // local trials: Server::Open refuses it unless every listener is on a loopback address.
  bool anonymous_operator = false;
  // Per-key rate limits (server/rate_limit.h); none by default.
  RateLimitConfig rate_limits;
  // Origins whose browser pages may call the HTTP API (CORS); none by default.
  std::vector<std::string> cors_origins;

  // Binary protocol.
  uint32_t connection_count_max = 1024;
  uint32_t frame_body_size_max = 8190 * 128;  // one full batch of commands
  uint32_t query_count_max = 1024;            // ids in one query frame
  uint32_t connection_requests_in_flight_max = 64;  // then the server stops reading
  // Server-wide, binary and HTTP together; above either the reply is "busy".
  uint32_t requests_in_flight_max = 4096;
  uint64_t request_bytes_in_flight_max = uint64_t{256} << 20;
  uint64_t request_bytes_retained_max = uint64_t{128} << 20;  // idle request buffers kept
  uint32_t idle_timeout_ms = 30000;  // a connection silent this long is closed

  // HTTP.
  uint32_t http_connection_count_max = 16384;
  uint32_t http_body_size_max = 16384;
  uint32_t http_header_size_max = 8192;

  // Lists (docs/read-side.md): how long a request with min_op waits for the snapshot follower
  // to reach it before 503 not_yet, and how many items one page visits at most.
  bool read_lists = true;  // keep the lists' view beside the snapshot follower
  uint32_t read_wait_ms = 1000;
  uint32_t read_scan_max = 10000;
  // Feeds. Subscribers hold HTTP connections: below http_connection_count_max, so that a
  // full feed never locks other clients out.
  uint32_t feed_subscriber_count_max = 15360;
  uint32_t feed_topic_count_max = 4096;
  uint32_t feed_tick_ms = 50;  // updates are coalesced per tick (<= 100 ms)
  // A viewer whose event has not been written within this long (it does not read) is closed
  // by the once-a-second sweep: viewers are exempt from idle_timeout_ms.
  uint32_t feed_write_timeout_ms = 10000;
  // A viewer's socket send buffer (SO_SNDBUF; the kernel doubles it): bounded, instead of
  // autotuned up to megabytes, so a viewer that stops reading stalls within a few hundred
  // events, and the kernel memory of a full feed stays bounded.
  uint32_t feed_send_buffer_bytes = 65536;

  TlsConfig tls;

  // Cluster mode (docs/cluster.md): [cluster] present means the replica's log is the shard's
  // JetStream stream instead of the data directory's journal.
  struct Cluster {
    bool enabled = false;
    std::string nats;  // nats-server URLs, comma-separated
    std::string shard;
    std::string node;  // this node's name
    int replicas = 3;
    int64_t lease_ms = 2000;
    int64_t ack_timeout_ms = 5000;
    // Followers publish their snapshots to the shard's object store bucket (docs/cluster.md).
    bool publish_snapshots = true;
    // The leader writes entry bodies zstd-compressed (docs/cluster.md, "Entries").
    bool compress_entries = true;
    // A follower's HTTP gateway sends writes on to the leader (docs/cluster.md).
    bool forward_writes = true;
    // A leader's reply also waits for the fdatasync of its local copy of the entry
    // (docs/cluster.md, "What an ack means").
    bool local_fsync = false;
    // Where clients are sent to reach this node when it leads (default: listen and http).
    std::string advertise_binary;
    std::string advertise_http;
  } cluster;
};

// The state-shaping keys a TOML file may give (each a manifest key, replica/shape.h).
extern const std::vector<std::string> kTomlShapeKeys;

// Reads `path` into *config (keys absent from the file keep their values); every
// state-shaping key present in the file is appended to config->shape_given.
[[nodiscard]] Status LoadServerConfig(const std::string& path, ServerConfig* config);
// Checks limits against each other (e.g. frame size vs batch size).
[[nodiscard]] Status ValidateServerConfig(const ServerConfig& config);
// The [engine], [ledger] and [fulfilment] sections that give `engine` and `clock` when read
// back by LoadServerConfig (e.g. what `eleven festival --print-serve-config` writes).
std::string EngineConfigToml(const engine::EngineConfig& engine, protocol::ClockMode clock);
// The shape `config` asks for (engine and clock).
replica::DataShape ShapeOfConfig(const ServerConfig& config);
// `config` with its engine and clock taken from `shape`.
void SetShape(const replica::DataShape& shape, ServerConfig* config);
// "wall" or "client" -> the mode; false for anything else.
[[nodiscard]] bool ParseClockMode(std::string_view text, protocol::ClockMode* mode);
// "host:port" -> parts. Port 0 = any free port.
[[nodiscard]] Status ParseHostPort(const std::string& address, std::string* host, uint16_t* port);

}  // namespace eleven::server
