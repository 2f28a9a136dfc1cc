// What the festival needs of an engine, so one simulated day runs on either: an embedded
// replica with its journal (MakeEmbeddedBackend) or `eleven serve` over the binary protocol
// (MakeRemoteBackend). The festival's logic lives only in festival.cc; a backend carries
// batches and answers queries.
//
// Ordering contract (what keeps a day deterministic on both): batches are applied in the
// order Submit was called, each as one log entry stamped with its `at_us`; every query
// (RequestLookup, RequestFigures and the blocking forms built on them) is answered from the
// state after every batch submitted before the call and none after it.
//
// Nothing here waits for the engine unless asked to: Submit and the Request* calls queue
// work and return; Wait and the Take* calls block for their answers. The festival keeps
// its own thread busy with the buyers while the engine applies what it sent (embedded: on
// the backend's engine thread; remote: in the server).
//
// Thread-safety: none for the caller; one festival thread calls a backend. Each backend
// hands answers over from its own threads under its own lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/assert.h"
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
  // The engine's sales figures, the total bucket (docs/read-side.md, "Live figures"): gross,
  // discounts, refunds and net of the paid orders, exact to the fen.
  wire::SalesRecord sales{};
};

// The answer to RequestLookup: codes[i] and the i-th record (protocol::QueryRecordSize(op)
// bytes, zeroed unless ok) for the i-th key asked.
struct LookupAnswer {
  std::vector<wire::Code> codes;
  std::vector<std::byte> records;
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
  // `results` gets one result per command by the time Wait(*ticket) returns; neither span's
  // storage may move or be freed until then. Tickets count up from 1 in submit order.
  [[nodiscard]] virtual Status Submit(std::span<const wire::Command> commands, uint64_t at_us,
                                      std::span<wire::Result> results, uint64_t* ticket) = 0;
  // The highest ticket whose results are in (and durable if `durable`), without blocking.
  virtual uint64_t ticket_done(bool durable) = 0;
  // Blocks until ticket's results are in (and durable if `durable`).
  [[nodiscard]] virtual Status Wait(uint64_t ticket, bool durable) = 0;

  // By-key queries (get_order_by_key, get_drop, get_shipment, get_parcel, get_coupon,
  // get_presale) of `keys`, read at
  // this point of the log; the token (from 1) is redeemed once with TakeLookup, which blocks
  // until the answer is in.
  virtual uint64_t RequestLookup(protocol::Operation op, std::vector<uint64_t> keys) = 0;
  [[nodiscard]] virtual Status TakeLookup(uint64_t token, LookupAnswer* answer) = 0;
  // Both at once: codes[i] and the i-th record of `records` for keys[i].
  [[nodiscard]] Status Lookup(protocol::Operation op, std::span<const uint64_t> keys, std::span<wire::Code> codes,
                              void* records) {
    LookupAnswer answer;
    ELEVEN_RETURN_IF_ERROR(TakeLookup(RequestLookup(op, {keys.begin(), keys.end()}), &answer));
    ELEVEN_ASSERT(answer.codes.size() == keys.size() && codes.size() == keys.size() &&
                  answer.records.size() == keys.size() * protocol::QueryRecordSize(op));
    std::copy(answer.codes.begin(), answer.codes.end(), codes.begin());
    if (!answer.records.empty()) std::memcpy(records, answer.records.data(), answer.records.size());
    return Status::Ok();
  }
  // Fulfilment's figures at this point of the log, as a token redeemed with TakeFigures ...
  virtual uint64_t RequestFigures() = 0;
  [[nodiscard]] virtual Status TakeFigures(uint64_t token, wire::FiguresRecord* figures) = 0;
  // ... or both at once.
  [[nodiscard]] Status GetFigures(wire::FiguresRecord* figures) { return TakeFigures(RequestFigures(), figures); }

  // After the last Wait: counters, digest, journal figures; the embedded backend also checks
  // every engine invariant (a broken one aborts).
  [[nodiscard]] virtual Status Finish(BackendFinal* final) = 0;

  // Embedded: the engine thread's time applying batches so far (any thread may ask); remote:
  // 0, the server's business.
  virtual uint64_t engine_busy_ns() const { return 0; }

  // Background snapshots: the embedded replica's; a server snapshots on its own terms.
  virtual bool can_snapshot() const { return false; }
  [[nodiscard]] virtual Status StartSnapshot() { return Status::Ok(); }
  virtual bool snapshot_running() const { return false; }
  [[nodiscard]] virtual Status PollSnapshot(bool /*wait*/, bool* done, replica::SnapshotReport* /*report*/) {
    *done = true;
    return Status::Ok();
  }
};

// An embedded replica in `data_dir` (formatted by Open; must not exist or be empty). With a
// `key` (a secret), the directory's first entry creates it as an operator key, as `eleven
// format` does, and every command is issued by it: the state a connect run with that key
// against a directory `eleven format` made ends in.
std::unique_ptr<FestivalBackend> MakeEmbeddedBackend(const std::string& data_dir, bool snapshot_follower,
                                                     const std::string& key);
// `eleven serve` at `address` (HOST:PORT), over one connection of the C++ client,
// authenticated with `key` (an operator key's secret; empty: anonymous).
std::unique_ptr<FestivalBackend> MakeRemoteBackend(const std::string& address, const std::string& key);

}  // namespace eleven::sim
