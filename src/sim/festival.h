// The festival: a Singles' Day replayed on the engine. A scenario (festival_scenario.h)
// becomes a stream of log entries — the catalog, warehouses and couriers, buyers' wallets
// and credit, then the day: ordinary orders along the traffic curve, the seed's live-stream
// drops, payments (wallet, card, instalments), cancellations, retries with the same key,
// expiries, and the couriers' tracking events — applied by an embedded replica with its
// journal, or by `eleven serve` through the client (FestivalOptions::connect; see
// festival_backend.h). Buyers act only on results that were released (durable), as real clients would.
// The run is deterministic for a seed (the engine's digest at the end is reported).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "engine/engine.h"
#include "sim/festival_scenario.h"

namespace eleven::sim {

struct FestivalOptions {
  std::string data_dir;  // embedded: formatted here (must not exist or be empty)
  // Non-empty: run against `eleven serve` at this HOST:PORT instead of an embedded replica.
  // The server must be freshly formatted, fit FestivalEngineConfig (--print-serve-config)
  // and run a client clock; snapshot_at_s is then skipped (the server's business).
  std::string connect;
  // An operator key's secret (docs/access.md). Connect: the festival authenticates with it
  // (empty: anonymous, which only a loopback server configured for it accepts). Embedded: the
  // data directory's first entry creates it, as `eleven format` does, and the festival's
  // commands are issued by it, so the run ends in the state a connect run with this key
  // against a directory formatted with it does (to the digest).
  std::string key;
  // Buyers see a batch's results this many ticks after it was sent (once durable): the
  // engine pipelines that many ticks, and the day stays deterministic however fast the disk.
  uint32_t reply_lag_ticks = 16;
  // Called about four times a wall-clock second with a one-line progress view.
  std::function<void(const struct FestivalProgress&)> progress;
  // Called once as each stage before the day begins and ends (a line of text): at full
  // scale the engine's tables and the day before take a while.
  std::function<void(const std::string&)> stage;
};

struct FestivalProgress {
  double simulated_s = 0;
  double simulated_total_s = 0;
  double wall_s = 0;
  uint64_t orders = 0;
  double orders_per_s_wall = 0;  // orders the engine took per wall second lately
  double orders_per_s_sim = 0;   // the simulated rate right now
  int64_t gmv_fen = 0;
  uint32_t drops_sold_out = 0;
  uint32_t drops = 0;
  uint64_t parcels_dispatched = 0;
};

// The engine a day of this scenario needs: capacities, ledger and fulfilment on.
engine::EngineConfig FestivalEngineConfig(const Scenario& scenario);

// Runs the scenario and fills `summary_json` with the summary (docs/festival-summary.md).
[[nodiscard]] Status RunFestival(const Scenario& scenario, const FestivalOptions& options,
                                 std::string* summary_json);

}  // namespace eleven::sim
