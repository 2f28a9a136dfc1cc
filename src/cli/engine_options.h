// Engine capacities as command-line options. A data directory must always be opened with
// the capacities it was written with (snapshots check it).
#pragma once

#include <CLI/CLI.hpp>

#include "engine/engine.h"

namespace eleven::cli {

struct EngineOptions {
  engine::EngineConfig config;
};

inline void AddEngineOptions(CLI::App& command, EngineOptions* options) {
  auto& c = options->config;
  command.add_option("--merchants-max", c.merchant_count_max, "merchant capacity")->capture_default_str();
  command.add_option("--skus-max", c.sku_count_max, "SKU capacity")->capture_default_str();
  command.add_option("--drops-max", c.drop_count_max, "drop capacity")->capture_default_str();
  command.add_option("--order-slots", c.order_slot_count, "orders kept in memory (and the idempotency window)")
      ->capture_default_str();
  command.add_option("--holdings-max", c.holding_count_max, "per-buyer-limit holdings capacity")
      ->capture_default_str();
  command.add_option("--pay-window-us", c.pay_window_us, "how long an order may wait for payment")
      ->capture_default_str();
}

}  // namespace eleven::cli
