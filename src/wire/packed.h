// Packed commands: how the journal stores a batch (grammar: docs/storage-format.md).
//
// A command is 128 bytes, read as 16 little-endian 64-bit words. Packed, it is a 16-bit mask
// (bit i set: word i is not zero) followed by its nonzero words in order. Most of a command
// is zero (unused lines, reserved fields), so a W1 order of 1 to 3 lines packs into 50 to 66
// bytes instead of 128: the journal, which carries every command to the disk, shrinks by
// about half. The encoding is canonical (one packing per command): a word the mask marks as
// present must not be zero.
#pragma once

#include <cstddef>
#include <span>

#include "wire/records.h"

namespace eleven::wire {

inline constexpr size_t kPackedCommandSizeMax = 2 + kCommandSize;

// Packs `commands` into `out`, which must hold commands.size() * kPackedCommandSizeMax
// bytes; returns the bytes written.
size_t PackCommands(std::span<const Command> commands, std::byte* out);

// Unpacks exactly out.size() commands that use every byte of `in`. False, with `out` in an
// unspecified state, if `in` is not such a packing (too short, bytes left over, or a word
// marked present that is zero).
[[nodiscard]] bool UnpackCommands(std::span<const std::byte> in, std::span<Command> out);

}  // namespace eleven::wire
