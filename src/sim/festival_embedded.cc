// The festival on an embedded replica: batches go straight to Replica::Submit (applied at
// once, durable when the sync thread says so), queries read the engine directly.
#include <cstring>

#include "base/assert.h"
#include "sim/festival_backend.h"
#include "storage/env.h"

namespace eleven::sim {

namespace {

class EmbeddedBackend final : public FestivalBackend {
 public:
  explicit EmbeddedBackend(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  Status Open(const engine::EngineConfig& config) override {
    Env* env = Env::Default();
    ELEVEN_RETURN_IF_ERROR(replica::FormatDataDir(env, data_dir_));
    replica::ReplicaOptions options;
    options.engine = config;
    replica::RecoveryReport report;
    return replica::Replica::Open(env, data_dir_, options, &replica_, &report);
  }
  std::string mode() const override { return "embedded"; }

  Status Submit(std::span<const wire::Command> commands, uint64_t at_us, std::span<wire::Result> results,
                uint64_t* ticket) override {
    ELEVEN_ASSERT(results.size() >= commands.size());
    ELEVEN_RETURN_IF_ERROR(replica_->Submit(commands, at_us, results, ticket));
    replica_->Flush();
    return Status::Ok();
  }
  uint64_t ticket_done(bool durable) override {
    return durable ? replica_->op_durable() : replica_->op_submitted();
  }
  Status Wait(uint64_t ticket, bool durable) override {
    ELEVEN_ASSERT(ticket <= replica_->op_submitted());  // results are written by Submit
    return durable ? replica_->WaitDurable(ticket) : Status::Ok();
  }

  Status Lookup(protocol::Operation op, std::span<const uint64_t> keys, std::span<wire::Code> codes,
                void* records) override {
    ELEVEN_ASSERT(codes.size() == keys.size());
    const size_t size = protocol::QueryRecordSize(op);
    for (size_t i = 0; i < keys.size(); i++) {
      void* record = static_cast<std::byte*>(records) + i * size;
      std::memset(record, 0, size);
      codes[i] = LookupOne(op, keys[i], record);
      if (codes[i] != wire::Code::ok) std::memset(record, 0, size);
    }
    return Status::Ok();
  }
  Status GetFigures(wire::FiguresRecord* figures) override {
    *figures = replica_->engine().fulfilment()->QueryFigures();
    return Status::Ok();
  }
  uint64_t RequestFigures() override {
    figures_.push_back(replica_->engine().fulfilment()->QueryFigures());
    return figures_.size() - 1;
  }
  Status TakeFigures(uint64_t token, wire::FiguresRecord* figures) override {
    ELEVEN_ASSERT(token < figures_.size());
    *figures = figures_[token];
    return Status::Ok();
  }

  Status Finish(BackendFinal* final) override {
    const engine::Engine& engine = replica_->engine();
    engine.CheckInvariants();
    final->stats = engine::StatsRecordOf(engine.stats());
    const Digest128 digest = engine.Digest();
    final->digest = {engine.last_op(), engine.last_timestamp_us(), digest.low, digest.high};
    final->journal_known = true;
    final->journal_bytes = replica_->journal_bytes_written();
    final->journal_syncs = replica_->journal_sync_count();
    return Status::Ok();
  }

  bool can_snapshot() const override { return true; }
  Status StartSnapshot() override { return replica_->StartSnapshot(); }
  bool snapshot_running() const override { return replica_->snapshot_running(); }
  Status PollSnapshot(bool wait, bool* done, replica::SnapshotReport* report) override {
    return replica_->PollSnapshot(wait, done, report);
  }

 private:
  wire::Code LookupOne(protocol::Operation op, uint64_t key, void* record) const {
    const engine::Engine& engine = replica_->engine();
    switch (op) {
      case protocol::Operation::kGetOrderByKey: return engine.GetOrderByKey(key, static_cast<wire::OrderRecord*>(record));
      case protocol::Operation::kGetDrop: return engine.GetDrop(key, static_cast<wire::DropRecord*>(record));
      case protocol::Operation::kGetShipment:
        return engine.fulfilment()->QueryShipment(key, static_cast<wire::ShipmentRecord*>(record));
      case protocol::Operation::kGetParcel:
        return engine.fulfilment()->QueryParcel(key, static_cast<wire::ParcelRecord*>(record));
      default: break;
    }
    ELEVEN_ASSERT(false && "the festival looks up only orders by key, drops, shipments and parcels");
    return wire::Code::invalid_operation;
  }

  const std::string data_dir_;
  std::unique_ptr<replica::Replica> replica_;
  std::vector<wire::FiguresRecord> figures_;  // RequestFigures' reads, by token
};

}  // namespace

std::unique_ptr<FestivalBackend> MakeEmbeddedBackend(const std::string& data_dir) {
  return std::make_unique<EmbeddedBackend>(data_dir);
}

}  // namespace eleven::sim
