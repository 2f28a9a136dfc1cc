#include "cli/festival_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/key_options.h"
#include "client/client.h"
#include "report/report.h"
#include "server/config.h"
#include "sim/festival.h"

namespace eleven::cli {

namespace {

struct FestivalArgs {
  std::string scenario = std::string(ELEVEN_SOURCE_DIR) + "/scenarios/default.toml";
  std::string data_dir;
  std::string out_dir = "festival-report";
  std::string connect;
  KeyArgs key;
  bool keep_data = false;
  bool print_serve_config = false;
};

std::string Clock(double s) {
  char buf[16];
  const int total = int(s);
  std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d", total / 3600, total / 60 % 60, total % 60);
  return buf;
}

std::string Yuan(int64_t fen) {
  char buf[32];
  const double yuan = double(fen) / 100;
  if (yuan >= 1e8) std::snprintf(buf, sizeof(buf), "¥%.2f亿", yuan / 1e8);
  else if (yuan >= 1e4) std::snprintf(buf, sizeof(buf), "¥%.1f万", yuan / 1e4);
  else std::snprintf(buf, sizeof(buf), "¥%.0f", yuan);
  return buf;
}

// The live view: one redrawn line on a terminal, a plain line every few seconds otherwise.
void ShowProgress(const sim::FestivalProgress& p, bool tty) {
  static int calls = 0;
  const double done = p.simulated_total_s > 0 ? p.simulated_s / p.simulated_total_s : 1;
  char line[256];
  std::snprintf(line, sizeof(line), "%s 11.11 %s | %8.0f orders/s (engine %8.0f/s) | GMV %s | drops sold out %u/%u | parcels out %llu",
                tty ? "" : "festival:", Clock(p.simulated_s).c_str(), p.orders_per_s_sim, p.orders_per_s_wall,
                Yuan(p.gmv_fen).c_str(), p.drops_sold_out, p.drops, (unsigned long long)p.parcels_dispatched);
  if (tty) {
    constexpr int kBarWidth = 24;
    std::string bar(kBarWidth, ' ');
    for (int i = 0; i < int(done * kBarWidth) && i < kBarWidth; i++) bar[i] = '#';
    std::printf("\r[%s] %3.0f%% %s\033[K", bar.c_str(), done * 100, line);
    std::fflush(stdout);
  } else if (calls++ % 20 == 0 || done >= 1) {
    std::printf("%s (%.0f%%, %.0f s)\n", line, done * 100, p.wall_s);
    std::fflush(stdout);
  }
}

// The `eleven serve` configuration a --connect run of this scenario needs.
void PrintServeConfig(const FestivalArgs& args, const sim::Scenario& scenario) {
  std::printf(
      "# eleven serve configuration for `eleven festival --scenario %s --connect HOST:PORT`.\n"
      "# The engine the scenario needs (the same an embedded run builds, so both end with the\n"
      "# same state digest), ledger and fulfilment on, and a client clock: the festival sets\n"
      "# the log time of every batch (set_clock). For simulation and replays, not production.\n"
      "# Format a data directory with it (the directory records this shape and its first\n"
      "# operator key), serve it, and give the festival that key:\n"
      "#   eleven format --data DIR --config THIS_FILE --key-file DIR.key\n"
      "#   eleven serve --data DIR --config THIS_FILE\n"
      "#   eleven festival --scenario %s --connect HOST:PORT --key-file DIR.key\n\n",
      args.scenario.c_str(), args.scenario.c_str());
  std::printf("%s", server::EngineConfigToml(sim::FestivalEngineConfig(scenario), protocol::ClockMode::kClient).c_str());
}

int Run(const FestivalArgs& args) {
  sim::Scenario scenario;
  Status s = sim::LoadScenario(args.scenario, &scenario);
  if (!s.ok()) {
    std::fprintf(stderr, "eleven festival: %s\n", s.ToString().c_str());
    return 2;
  }
  if (args.print_serve_config) {
    PrintServeConfig(args, scenario);
    return 0;
  }
  sim::FestivalOptions options;
  options.connect = args.connect;
  s = ResolveKey(args.key, &options.key);
  if (!s.ok()) {
    std::fprintf(stderr, "eleven festival: %s\n", s.message().c_str());
    return 2;
  }
  if (!args.connect.empty() && !args.data_dir.empty()) {
    std::fprintf(stderr, "eleven festival: --data is for the embedded engine; with --connect the data is the server's\n");
    return 2;
  }
  if (std::vector<std::string> addresses; !args.connect.empty()) {
    // One server or a replica set's nodes: the client takes the list as it is given.
    if (Status parsed = client::ParseAddresses(args.connect, &addresses); !parsed.ok()) {
      std::fprintf(stderr, "eleven festival: --connect: %s\n", parsed.message().c_str());
      return 2;
    }
  }
  options.data_dir = args.data_dir;
  const bool temporary = options.data_dir.empty() && options.connect.empty();
  if (temporary) {
    char tmpl[] = "/tmp/eleven-festival-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror("eleven festival: mkdtemp");
      return 1;
    }
    options.data_dir = tmpl;
  }
  const bool tty = isatty(STDOUT_FILENO) != 0;
  options.progress = [tty](const sim::FestivalProgress& p) { ShowProgress(p, tty); };
  options.stage = [](const std::string& text) {
    std::printf("eleven festival: %s\n", text.c_str());
    std::fflush(stdout);
  };
  const std::string where = options.connect.empty() ? "data in " + options.data_dir
                                                   : "against eleven serve at " + options.connect;
  std::printf("eleven festival: scenario %s (scale %g, %u merchants, %u buyers), %s\n", scenario.name.c_str(),
              scenario.scale, scenario.merchants, scenario.buyers, where.c_str());
  if (!options.connect.empty() && scenario.snapshot_at_s >= 0) {
    std::printf("eleven festival: snapshot_at_s skipped: snapshots are the server's business\n");
  }
  std::string summary;
  s = sim::RunFestival(scenario, options, &summary);
  if (tty) std::printf("\n");
  if (temporary && !args.keep_data) std::filesystem::remove_all(options.data_dir);
  if (!s.ok()) {
    const bool keyless = !options.connect.empty() && options.key.empty() &&
                         s.message().find("unauthenticated") != std::string::npos;
    std::fprintf(stderr, "eleven festival: %s%s\n", s.ToString().c_str(),
                 keyless ? " (give the server's operator key: --key or --key-file, from `eleven format`)" : "");
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(args.out_dir, ec);
  const std::string json_path = args.out_dir + "/summary.json";
  const std::string html_path = args.out_dir + "/report.html";
  {
    std::ofstream out(json_path);
    out << summary << "\n";
    if (!out) {
      std::fprintf(stderr, "eleven festival: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  s = report::WriteHtmlReport(summary, report::DefaultWebDir(), html_path);
  if (!s.ok()) {
    std::fprintf(stderr, "eleven festival: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("eleven festival: done. Report: %s  (summary: %s)\n",
              std::filesystem::absolute(html_path).c_str(), std::filesystem::absolute(json_path).c_str());
  return 0;
}

}  // namespace

void AddFestivalCommand(CLI::App& app) {
  auto args = std::make_shared<FestivalArgs>();
  CLI::App* f = app.add_subcommand("festival", "Replay a Singles' Day on the engine and write an HTML report");
  f->add_option("--scenario", args->scenario, "scenario file (TOML)")->capture_default_str();
  f->add_option("--data", args->data_dir, "data directory to create (default: a temporary one)");
  f->add_option("--out", args->out_dir, "where to write report.html and summary.json")->capture_default_str();
  f->add_option("--connect", args->connect,
                "run against `eleven serve` at HOST:PORT instead of the embedded engine (a fresh "
                "server started with --print-serve-config's file), or a replica set's nodes "
                "HOST:PORT,HOST:PORT,... (the client finds the leader and follows failovers)");
  AddKeyOptions(*f, &args->key,
                "an operator key (--connect: the festival sets up merchants, SKUs, warehouses and the clock "
                "with it; embedded: created as the data directory's first key, as `eleven format` does)");
  f->add_flag("--print-serve-config", args->print_serve_config,
              "write the `eleven serve` TOML this scenario needs for --connect, and exit");
  f->add_flag("--keep-data", args->keep_data, "keep the temporary data directory");
  f->callback([args] { std::exit(Run(*args)); });
}

}  // namespace eleven::cli
