// Engine capacities and the log clock as command-line options, for the commands that take a
// data directory's shape: `format` records them; `serve` and `verify` check them against
// the directory's manifest (a flag that contradicts it is refused, naming the key and both
// values; replica/shape.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "replica/shape.h"
#include "server/config.h"

namespace eleven::cli {

struct EngineOptions {
  struct Flag {
    std::string key;  // the manifest key, e.g. "engine.skus_max"
    CLI::Option* option;
    std::function<void(const engine::EngineConfig& from, engine::EngineConfig* to)> copy;
  };
  engine::EngineConfig values;  // what the flags parsed into (defaults where not given)
  std::string clock;            // "wall", "client" or "" (not given)
  std::vector<Flag> flags;
};

inline void AddEngineOptions(CLI::App& command, EngineOptions* options) {
  auto add = [&](const char* flag, const char* key, auto member, const char* help) {
    CLI::Option* option =
        command.add_option(flag, options->values.*member, help)->capture_default_str();
    options->flags.push_back(
        {key, option, [member](const engine::EngineConfig& from, engine::EngineConfig* to) {
           to->*member = from.*member;
         }});
  };
  add("--merchants-max", "engine.merchants_max", &engine::EngineConfig::merchant_count_max,
      "merchant capacity");
  add("--skus-max", "engine.skus_max", &engine::EngineConfig::sku_count_max, "SKU capacity");
  add("--drops-max", "engine.drops_max", &engine::EngineConfig::drop_count_max, "drop capacity");
  add("--order-slots", "engine.order_slots", &engine::EngineConfig::order_slot_count,
      "orders kept in memory (and the idempotency window)");
  add("--holdings-max", "engine.holdings_max", &engine::EngineConfig::holding_count_max,
      "per-buyer-limit holdings capacity");
  add("--pay-window-us", "engine.pay_window_us", &engine::EngineConfig::pay_window_us,
      "how long an order may wait for payment");
  add("--batch-commands-max", "engine.batch_commands_max",
      &engine::EngineConfig::batch_command_count_max, "commands in one batch");
  add("--api-keys-max", "engine.api_keys_max", &engine::EngineConfig::api_key_count_max,
      "API keys ever created (docs/access.md)");
  add("--coupons-max", "engine.coupons_max", &engine::EngineConfig::coupon_count_max,
      "coupons ever created (docs/promotions.md)");
  add("--coupon-claims-max", "engine.coupon_claims_max",
      &engine::EngineConfig::coupon_claim_count_max, "coupon claims ever made");
  add("--coupon-orders-max", "engine.coupon_orders_max",
      &engine::EngineConfig::coupon_order_count_max, "orders with coupons kept in memory");
  add("--presales-max", "engine.presales_max", &engine::EngineConfig::presale_count_max,
      "pre-sales ever created (docs/promotions.md)");
  add("--deposits-max", "engine.deposits_max", &engine::EngineConfig::deposit_count_max,
      "pre-sale deposits ever paid");
}

inline void AddClockOption(CLI::App& command, EngineOptions* options) {
  command.add_option(
      "--clock", options->clock,
      "log time: wall (default) or client (set by clients with set_clock; simulation and "
      "replays only)");
}

// Copies every flag given on the command line into *config (after its TOML file was read:
// flags win) and records it in config->shape_given. InvalidArgument for a bad --clock.
[[nodiscard]] inline Status ApplyEngineOptions(const EngineOptions& options,
                                               server::ServerConfig* config) {
  for (const EngineOptions::Flag& flag : options.flags) {
    if (flag.option->count() == 0) continue;
    flag.copy(options.values, &config->engine);
    config->shape_given.push_back({flag.key, "by " + flag.option->get_name()});
  }
  if (!options.clock.empty()) {
    if (!server::ParseClockMode(options.clock, &config->clock)) {
      return Status::InvalidArgument("--clock must be wall or client, not " + options.clock);
    }
    config->shape_given.push_back({"engine.clock", "by --clock"});
  }
  return Status::Ok();
}

}  // namespace eleven::cli
