// Byte ranges passed between the engine, storage and the network.
#pragma once

#include <cstddef>
#include <span>

namespace eleven {

using ByteSpan = std::span<const std::byte>;

}  // namespace eleven
