// A data directory's shape: every setting that decides what its journal means when replayed
// (engine capacities, pay window, batch size, ledger and fulfilment on or off with all of
// their settings, the log clock). It is recorded in the directory's manifest at format
// (storage/manifest.h; keys and values in docs/storage-format.md, "Manifest") and read back
// by everything that opens the directory, so the same journal always meets the same engine.
// A setting given at start that contradicts it is refused, naming the key and both values;
// capacities never change after format (a larger table would need a snapshot restored into
// it, which is not supported).
//
// Free functions and plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "storage/env.h"
#include "storage/manifest.h"

namespace eleven::replica {

// Where batch timestamps come from. The replica takes whatever time its caller gives; the
// server decides (server/engine_loop.h): the wall clock, or clients' set_clock.
enum class LogClock : uint8_t { kWall = 0, kClient = 1 };

struct DataShape {
  engine::EngineConfig engine;
  LogClock clock = LogClock::kWall;
};

// A state-shaping key some caller gave explicitly, and where: "in /etc/eleven.toml",
// "by --skus-max". Only those are checked against the manifest; the rest are taken from it.
struct ShapeKeySource {
  std::string key;  // a manifest key, e.g. "engine.skus_max"
  std::string source;
};

// Every key of a version-1 manifest, in the order it is written.
std::vector<std::string> ShapeKeys();
// The manifest entries of `shape`: every key, values as in a TOML file ("4096", "true",
// "\"wall\"", "[1000, 2000]").
std::vector<ManifestEntry> ShapeToManifest(const DataShape& shape);
// The shape a manifest read from `path` records. Corruption if a key is missing, unknown or
// its value is not what ShapeToManifest writes for its type.
[[nodiscard]] Status ShapeFromManifest(const std::string& path,
                                       const std::vector<ManifestEntry>& entries, DataShape* shape);

// Reads the shape of the data directory `dir`. NotFound if it is not formatted;
// FailedPrecondition, saying how to record it (`eleven format --adopt`), if it has no
// manifest (formatted by a build from before manifests); Corruption if the manifest is
// damaged.
[[nodiscard]] Status ReadDataShape(Env* env, const std::string& dir, DataShape* shape);

// Checks that every key in `given` has in `wanted` the value `recorded` has: ok, or
// FailedPrecondition listing each contradiction as "engine.skus_max = 1024 in config.toml,
// but the data directory DIR was formatted with 4096".
[[nodiscard]] Status CheckShape(const std::string& dir, const DataShape& recorded,
                                const DataShape& wanted, const std::vector<ShapeKeySource>& given);
// `given` for every key, all from `source`.
std::vector<ShapeKeySource> AllShapeKeys(const std::string& source);

}  // namespace eleven::replica
