// Replaying the journal onto an engine: what recovery (Replica::Open) and `eleven verify`
// both do after loading the newest good snapshot.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "view/read_view.h"
#include "storage/env.h"
#include "storage/journal.h"
#include "wire/records.h"

namespace eleven::replica {

// How an entry's body holds its commands: the journal header's body_format.
enum class BodyFormat : uint16_t {
  kRaw = 0,     // the 128-byte records one after another (every version-1 journal)
  kPacked = 1,  // wire/packed.h: zero words left out; what the replica writes
};

// The commands of a journal entry, in `*commands` (resized to command_count). Corruption
// naming the entry's op if its body does not hold exactly command_count commands in its
// format, or if it holds more than `command_count_max`.
[[nodiscard]] Status EntryCommands(const JournalEntry& entry, uint32_t command_count_max,
                                   std::vector<wire::Command>* commands);

// Called during replay every so often with the number of entries replayed so far.
using RecoveryProgress = std::function<void(uint64_t replayed)>;

struct ReplayReport {
  uint64_t entries = 0;
  uint64_t commands = 0;
  uint64_t bytes = 0;  // the journal bytes of the entries replayed
  double seconds = 0;  // the replay alone: reading, checking and applying
  std::optional<JournalTornTail> torn_tail;  // reported, not cut (the journal writer cuts it)
  // Where the last entry replayed (or `after`, if none was) ends; unset if neither.
  std::optional<JournalPosition> end;
};

struct ReplayOptions {
  RecoveryProgress progress;
  // Replay ends with this op, reading nothing after its entry; the journal must hold it
  // (Corruption if it ends before). Bounded, the journal may be written meanwhile.
  uint64_t op_to = kJournalOpMax;
  // Read on right after this position (its op_last must be engine->last_op()) instead of
  // looking for engine->last_op() + 1 from the start of its segment.
  std::optional<JournalPosition> after;
  // Checked between entries: once true, replay stops and returns Unavailable.
  const std::atomic<bool>* stop = nullptr;
  // If set, holds this view's lock around applying each entry and tells it what the entry
  // held (ReadView::Applied): the snapshot follower's lists (docs/read-side.md).
  view::ReadView* view = nullptr;
};

// Applies every journal entry after engine->last_op(), in op order. A reader thread reads
// and checks the entries (checksums, hash chain, op continuity) into a few buffers while the
// calling thread applies them, so replay runs at the engine's apply speed. An entry that does
// not hold whole commands within the engine's batch limit, or that the engine refuses as a
// batch, is Status::Corruption naming its op; the reader's own errors come back as they are.
[[nodiscard]] Status ReplayJournal(Env* env, const std::string& dir, engine::Engine* engine,
                                   const ReplayOptions& options, ReplayReport* report);
[[nodiscard]] inline Status ReplayJournal(Env* env, const std::string& dir, engine::Engine* engine,
                                          const RecoveryProgress& progress, ReplayReport* report) {
  return ReplayJournal(env, dir, engine, ReplayOptions{.progress = progress}, report);
}

// What CheckJournal read.
struct JournalCheck {
  uint64_t segment_count = 0;
  uint64_t op_first = 0;  // the first op of the first kept segment (0: no segment)
  uint64_t op_last = 0;   // the last good entry's op (0: none)
  uint64_t entries = 0;
  std::optional<JournalTornTail> torn_tail;  // reported, not cut
};

// Reads every kept journal segment from the first one — also those before the newest
// snapshot, which recovery skips but an older snapshot's fallback needs — checking each
// entry (checksums, hash chain, op continuity) and that its body holds whole commands within
// `command_count_max`. Changes nothing. The reader's error (Corruption naming the file and
// offset) or EntryCommands' comes back as it is. What `eleven verify` runs.
[[nodiscard]] Status CheckJournal(Env* env, const std::string& dir, uint32_t command_count_max,
                                  JournalCheck* check);

}  // namespace eleven::replica
