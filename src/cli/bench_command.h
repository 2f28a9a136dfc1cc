// eleven bench --connect HOST:PORT[,HOST:PORT...]: W1 (sim/w1.h) against a running server,
// or a replica set's nodes (the client finds the leader and follows failovers), through the
// C++ client, with N connections (sharing --io-threads I/O threads) and batches of B orders,
// closed-loop (each connection keeps `depth` batches in flight) or open-loop at --rate
// orders/s (latency measured from when each batch was due, so a slow server cannot hide its
// queueing). Prints orders/s and latency
// percentiles, and one JSON line for the benchmark tables. Every connection authenticates
// with --key / --key-file (an operator key: it loads the catalog and places the orders).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "cli/key_options.h"

namespace eleven::cli {

struct BenchArgs {
  std::string connect = "127.0.0.1:7011";  // host:port, or several comma-separated
  uint32_t connections = 4;
  uint32_t batch = 1000;       // orders per request
  uint32_t depth = 2;          // closed loop: requests in flight per connection
  uint32_t io_threads = 1;     // client I/O threads the connections share; 0 = one each
  uint64_t rate = 0;           // orders/s offered; 0 = closed loop
  double seconds = 10;
  uint64_t seed = 1;
  bool load_catalog = false;   // load the W1 catalog even if the server has SKU 1
  KeyArgs key;                 // an operator key (it loads the catalog); none: anonymous
  std::string tls_ca;          // connect over TLS, trusting this PEM CA file ("" = plain TCP)
};

int RunBench(const BenchArgs& args);
void AddBenchCommand(CLI::App& app);

}  // namespace eleven::cli
