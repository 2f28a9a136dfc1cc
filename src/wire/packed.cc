#include "wire/packed.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace eleven::wire {

namespace {

constexpr int kWords = kCommandSize / 8;
static_assert(kWords == 16, "the mask has one bit per word");

}  // namespace

size_t PackCommands(std::span<const Command> commands, std::byte* out) {
  std::byte* at = out;
  for (const Command& command : commands) {
    uint64_t words[kWords];
    std::memcpy(words, command.bytes, kCommandSize);
    uint16_t mask = 0;
    std::byte* data = at + sizeof(mask);
    // Every word is stored and the cursor moves past the nonzero ones only: no branch per
    // word. The last store ends at most kPackedCommandSizeMax bytes after `at`.
    for (int w = 0; w < kWords; w++) {
      std::memcpy(data, &words[w], sizeof(uint64_t));
      const bool present = words[w] != 0;
      data += present ? sizeof(uint64_t) : 0;
      mask = static_cast<uint16_t>(mask | (uint16_t{present} << w));
    }
    std::memcpy(at, &mask, sizeof(mask));
    at = data;
  }
  return static_cast<size_t>(at - out);
}

bool UnpackCommands(std::span<const std::byte> in, std::span<Command> out) {
  size_t at = 0;
  for (Command& command : out) {
    uint16_t mask;
    if (in.size() - at < sizeof(mask)) return false;
    std::memcpy(&mask, in.data() + at, sizeof(mask));
    at += sizeof(mask);
    if (in.size() - at < size_t(std::popcount(mask)) * sizeof(uint64_t)) return false;
    uint64_t words[kWords] = {};
    for (int w = 0; w < kWords; w++) {
      if ((mask >> w & 1) == 0) continue;
      std::memcpy(&words[w], in.data() + at, sizeof(uint64_t));
      at += sizeof(uint64_t);
      if (words[w] == 0) return false;  // not canonical: a zero word is left out
    }
    std::memcpy(command.bytes, words, kCommandSize);
  }
  return at == in.size();
}

}  // namespace eleven::wire
