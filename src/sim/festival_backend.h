// What the festival needs of an engine, so one simulated day runs on either: an embedded
// replica with its journal (MakeEmbeddedBackend) or `eleven serve` over the binary protocol
// (MakeRemoteBackend). The festival's logic lives only in festival.cc; a backend carries
// batches and answers queries.
//
// Ordering contract (what keeps a day deterministic on both): batches are applied in the
// order Submit was called, each as one log entry stamped with its `at_us`; every query
// (Lookup, GetFigures, RequestFigures) is answered from the state after every batch
// submitted before the call and none after it.
//
// Thread-safety: none; one festival thread calls a backend. The remote backend's replies
// arrive on the client's thread and are handed over under its own lock.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/status.h"
#include "client/protocol.h"
#include "engine/engine.h"
#include "replica/replica.h"
#include "wire/engine_records.h"
#include "wire/fulfilment.h"
#include "wire/records.h"

namespace eleven::sim {

// The end of the day, as the summary reports it.
struct BackendFinal {
  wire::StatsRecord stats{};
  protocol::DigestRecord digest{};  // op = log entries applied
  bool journal_known = false;       // embedded only: the journal is the server's business remotely
  uint64_t journal_bytes = 0;
  uint64_t journal_syncs = 0;
  uint64_t client_resends = 0;  // remote: requests re-sent after a reconnect
  uint64_t busy_replies = 0;    // remote: requests the server answered busy (then re-sent)
};

class FestivalBackend {
 public:
  virtual ~FestivalBackend() = default;

  // Prepares an empty engine of `config`. Embedded: formats the data directory and opens a
  // replica. Remote: connects, refuses a server that is not empty, is smaller than `config`
  // or does not run a client clock; every refusal names what to change.
  [[nodiscard]] virtual Status Open(const engine::EngineConfig& config) = 0;
  // "embedded" or "connect HOST:PORT".
  virtual std::string mode() const = 0;
  // Non-empty when the server's capacities differ from `config` but fit it: the run goes on,
  // but its digest cannot equal an embedded run's (table sizes are part of the state).
  virtual std::string limits_note() const { return ""; }

  // Sends `commands` (1..8190) as one log entry at log time `at_us` (µs since the epoch).
  // `results` gets one result per command by the time Wait(*ticket) returns; its storage
  // must not move or be freed until then. Tickets count up from 1 in submit order.
  [[nodiscard]] virtual Status Submit(std::span<const wire::Command> commands, uint64_t at_us,
                                      std::span<wire::Result> results, uint64_t* ticket) = 0;
  // The highest ticket whose results are in (and durable if `durable`), without blocking.
  virtual uint64_t ticket_done(bool durable) = 0;
  // Blocks until ticket's results are in (and durable if `durable`).
  [[nodiscard]] virtual Status Wait(uint64_t ticket, bool durable) = 0;

  // By-key queries (get_order_by_key, get_drop, get_shipment, get_parcel): codes[i] and the
  // i-th record (protocol::QueryRecordSize(op) bytes, zeroed unless ok) for keys[i].
  [[nodiscard]] virtual Status Lookup(protocol::Operation op, std::span<const uint64_t> keys,
                                      std::span<wire::Code> codes, void* records) = 0;
  // Fulfilment's figures at this point of the log, now (blocking) ...
  [[nodiscard]] virtual Status GetFigures(wire::FiguresRecord* figures) = 0;
  // ... or later: the token of a read taken at this point, collected with TakeFigures
  // (remote: no round trip waited for while the day runs).
  virtual uint64_t RequestFigures() = 0;
  [[nodiscard]] virtual Status TakeFigures(uint64_t token, wire::FiguresRecord* figures) = 0;

  // After the last Wait: counters, digest, journal figures; the embedded backend also checks
  // every engine invariant (a broken one aborts).
  [[nodiscard]] virtual Status Finish(BackendFinal* final) = 0;

  // Background snapshots: the embedded replica's; a server snapshots on its own terms.
  virtual bool can_snapshot() const { return false; }
  [[nodiscard]] virtual Status StartSnapshot() { return Status::Ok(); }
  virtual bool snapshot_running() const { return false; }
  [[nodiscard]] virtual Status PollSnapshot(bool /*wait*/, bool* done, replica::SnapshotReport* /*report*/) {
    *done = true;
    return Status::Ok();
  }
};

// An embedded replica in `data_dir` (formatted by Open; must not exist or be empty).
std::unique_ptr<FestivalBackend> MakeEmbeddedBackend(const std::string& data_dir);
// `eleven serve` at `address` (HOST:PORT), over one connection of the C++ client.
std::unique_ptr<FestivalBackend> MakeRemoteBackend(const std::string& address);

}  // namespace eleven::sim
