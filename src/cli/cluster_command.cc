#include "cli/cluster_command.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "cluster/init.h"
#include "cluster/jetstream_log.h"
#include "cluster/nats.h"

namespace eleven::cli {

namespace {

struct InitArgs {
  std::string data_dir;
  std::string nats;
  std::string shard;
  int replicas = 3;
};

int RunInit(const InitArgs& args) {
  std::unique_ptr<cluster::NatsConnection> nats;
  Status status = cluster::NatsConnection::Connect(
      cluster::NatsOptions{.urls = args.nats, .name = "eleven-cluster-init"}, &nats);
  if (status.ok())
    status =
        cluster::InitShard(nats.get(), args.shard, args.replicas, Env::Default(), args.data_dir);
  if (!status.ok()) {
    std::fprintf(stderr, "eleven cluster init: %s\n", status.ToString().c_str());
    return status.code() == StatusCode::kFailedPrecondition ? 2 : 1;
  }
  std::printf(
      "eleven cluster init: shard %s initialized: stream %s (%d replicas); its genesis entry, op "
      "1, "
      "holds the first operator key of %s\n",
      args.shard.c_str(), cluster::StreamName(args.shard).c_str(), args.replicas,
      args.data_dir.c_str());
  return 0;
}

}  // namespace

void AddClusterCommand(CLI::App& app) {
  CLI::App* cluster =
      app.add_subcommand("cluster", "cluster mode on NATS JetStream (docs/cluster.md)");
  cluster->require_subcommand(1);
  auto args = std::make_shared<InitArgs>();
  CLI::App* init =
      cluster->add_subcommand("init", "create a shard's stream and write its genesis entry");
  init->add_option("--data", args->data_dir,
                   "a data directory just formatted (eleven format --key-file ...)")
      ->required();
  init->add_option("--nats", args->nats, "nats-server URLs, comma-separated")->required();
  init->add_option("--shard", args->shard, "the shard's name")->required();
  init->add_option("--replicas", args->replicas, "stream replicas (3; 1 for a single nats-server)")
      ->check(CLI::Range(1, 5));
  init->callback([args] { std::exit(RunInit(*args)); });
}

}  // namespace eleven::cli
