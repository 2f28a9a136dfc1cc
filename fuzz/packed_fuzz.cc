// libFuzzer target: the journal's packed commands (src/wire/packed.h) on arbitrary bytes.
// The first input byte is a command count (0..63), the rest a packed body. Unpacking either
// refuses it or yields commands that pack back to exactly the same bytes (the packing is
// canonical, so no two bodies mean the same commands); and any bytes taken as whole commands
// pack and unpack to themselves.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "wire/packed.h"

using namespace eleven::wire;

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t count = data[0] % 64;
  const auto body = std::as_bytes(std::span(data + 1, size - 1));
  std::vector<Command> commands(count);
  if (UnpackCommands(body, commands)) {
    std::vector<std::byte> again(count * kPackedCommandSizeMax);
    const size_t packed = PackCommands(commands, again.data());
    Check(packed == body.size());
    Check(packed == 0 || std::memcmp(again.data(), body.data(), packed) == 0);
  }
  // The same bytes read as raw 128-byte commands: a round trip.
  std::vector<Command> raw((size - 1) / kCommandSize);
  if (!raw.empty()) std::memcpy(static_cast<void*>(raw.data()), data + 1, raw.size() * kCommandSize);
  std::vector<std::byte> packed(raw.size() * kPackedCommandSizeMax);
  packed.resize(PackCommands(raw, packed.data()));
  std::vector<Command> back(raw.size());
  Check(UnpackCommands(packed, back));
  Check(raw.empty() || std::memcmp(back.data(), raw.data(), raw.size() * kCommandSize) == 0);
  return 0;
}
