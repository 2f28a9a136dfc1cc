// The data directory's manifest: the settings that shape its state (engine capacities,
// modules on or off, pay window, clock mode, ...), recorded once by `eleven format` and read
// back by everything that opens the directory, so that a journal is never replayed into a
// differently-shaped engine. Storage keeps it as an ordered list of key = value lines with a
// trailing checksum (grammar in docs/storage-format.md, "Manifest"); what the keys mean is
// the replica's business (replica/shape.h).
//
// Failure: a missing file is NotFound; a file that fails its checksum or the grammar (bad
// line, repeated key, oversized) is Corruption naming the file and the line; a version other
// than kManifestVersion is FailedPrecondition. Free functions; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/env.h"

namespace eleven {

inline constexpr char kManifestName[] = "MANIFEST";
inline constexpr uint32_t kManifestVersion = 1;
// A manifest is a few hundred bytes; anything above this is not one.
inline constexpr uint64_t kManifestSizeBytesMax = 64 << 10;
inline constexpr uint32_t kManifestEntryCountMax = 256;

struct ManifestEntry {
  std::string key;    // [a-z0-9_.]+, e.g. "engine.skus_max"
  std::string value;  // printable ASCII, no line break, not empty
  friend bool operator==(const ManifestEntry&, const ManifestEntry&) = default;
};

// The file's bytes for `entries` (each key once, valid characters: asserted).
std::string EncodeManifest(const std::vector<ManifestEntry>& entries);
// Parses and checks the bytes of a manifest read from `path` (named in errors).
[[nodiscard]] Status DecodeManifest(const std::string& path, std::string_view text,
                                    std::vector<ManifestEntry>* entries);

// Writes `dir`/MANIFEST durably (temp file, fdatasync, rename, directory fsync).
[[nodiscard]] Status WriteManifest(Env* env, const std::string& dir,
                                   const std::vector<ManifestEntry>& entries);
// Reads and checks `dir`/MANIFEST.
[[nodiscard]] Status ReadManifest(Env* env, const std::string& dir,
                                  std::vector<ManifestEntry>* entries);

}  // namespace eleven
