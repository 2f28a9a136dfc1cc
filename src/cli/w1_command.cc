#include "cli/w1_command.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "sim/w1_run.h"

namespace eleven::cli {

namespace {

int RunW1(sim::W1RunOptions options, const std::string& durability, bool keep) {
  if (durability != "durable" && durability != "relaxed") {
    std::fprintf(stderr, "eleven w1: --durability is durable or relaxed, not %s\n", durability.c_str());
    return 2;
  }
  options.durability = durability == "durable" ? sim::Durability::kDurable : sim::Durability::kRelaxed;
  const bool temporary = options.data_dir.empty();
  if (temporary) {
    char tmpl[] = "/tmp/eleven-w1-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror("eleven w1: mkdtemp");
      return 1;
    }
    options.data_dir = tmpl;
  }
  sim::W1RunResult result;
  Status s = sim::RunW1Embedded(options, &result);
  if (temporary && !keep) std::filesystem::remove_all(options.data_dir);
  if (!s.ok()) {
    std::fprintf(stderr, "eleven w1: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%s\n", result.ToJson(options.durability).c_str());
  return 0;
}

}  // namespace

void AddW1Command(CLI::App& app) {
  auto options = std::make_shared<sim::W1RunOptions>();
  auto durability = std::make_shared<std::string>("durable");
  auto keep = std::make_shared<bool>(false);
  CLI::App* w1 = app.add_subcommand("w1", "Run W1 on an embedded engine with its journal; prints one JSON line");
  w1->add_option("--orders", options->order_count, "orders to send")->capture_default_str();
  w1->add_option("--seed", options->seed, "W1 seed")->capture_default_str();
  w1->add_option("--batch", options->batch_size, "orders per batch (<= 8190)")->capture_default_str()
      ->check(CLI::Range(1, 8190));
  w1->add_option("--in-flight", options->in_flight_max, "batches in flight")->capture_default_str()
      ->check(CLI::Range(1, 1024));
  w1->add_option("--durability", *durability, "durable or relaxed")->capture_default_str();
  w1->add_option("--prepare-segments", options->prepare_segments,
                 "write the new journal's first segment over zeros written at start-up")
      ->capture_default_str();
  w1->add_option("--data", options->data_dir, "data directory to create (default: a temporary one)");
  w1->add_flag("--keep", *keep, "keep the temporary data directory");
  w1->callback([options, durability, keep] { std::exit(RunW1(*options, *durability, *keep)); });
}

}  // namespace eleven::cli
