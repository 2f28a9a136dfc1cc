// The festival on an embedded replica, driven by an engine thread of its own: Submit and the
// Request* calls queue a job and return, the engine thread runs the jobs in the order they
// were queued (that order is the log's), and the festival thread only waits when it takes an
// answer. While the engine applies one tick, the festival makes the next: on two cores the
// two halves of a day overlap instead of taking turns.
//
// Durability: the engine thread hands staged entries to the replica's sync thread after
// every job; when a sync ends, the replica's callback wakes the engine thread to hand over
// what was staged meanwhile, and moves durable_ on for the festival.
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/assert.h"
#include "base/clock.h"
#include "client/keys.h"
#include "sim/festival_backend.h"
#include "storage/env.h"

namespace eleven::sim {

namespace {

class EmbeddedBackend final : public FestivalBackend {
 public:
  EmbeddedBackend(std::string data_dir, bool snapshot_follower, std::string key)
      : data_dir_(std::move(data_dir)), snapshot_follower_(snapshot_follower), key_(std::move(key)) {}
  ~EmbeddedBackend() override {
    if (thread_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
      }
      engine_cv_.notify_one();
      thread_.join();
    }
    if (replica_) replica_->SetDurableCallback(nullptr);
  }

  Status Open(const engine::EngineConfig& config) override {
    Env* env = Env::Default();
    replica::ReplicaOptions options;
    options.engine = config;
    // The festival sets the log time of every batch: the directory records a client clock,
    // so `eleven serve` on it afterwards keeps doing so (and `verify` needs no flags).
    options.clock = replica::LogClock::kClient;
    ELEVEN_RETURN_IF_ERROR(replica::FormatDataDir(env, data_dir_, replica::ShapeOf(options)));
    if (snapshot_follower_) options.snapshot_mode = replica::ReplicaOptions::SnapshotMode::kFollower;
    options.read_view = false;  // the embedded day serves no lists: no indexes beside it
    replica::RecoveryReport report;
    ELEVEN_RETURN_IF_ERROR(replica::Replica::Open(env, data_dir_, options, &replica_, &report));
    if (!key_.empty()) ELEVEN_RETURN_IF_ERROR(AddKey());
    durable_ = replica_->op_durable() - op_base_;
    replica_->SetDurableCallback([this](uint64_t op) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        durable_ = std::max(durable_, op >= op_base_ ? op - op_base_ : 0);
        kick_ = true;
      }
      engine_cv_.notify_one();
      festival_cv_.notify_all();
    });
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }
  // The directory's first operator key, as `eleven format` records it (op 1, log time 0,
  // issuer 0); the festival's commands are then that key's.
  Status AddKey() {
    ELEVEN_ASSERT(replica_->op_submitted() == 0);
    const wire::Command create = client::MakeCreateKey(wire::Role::kOperator, 0, key_);
    wire::Result result{};
    uint64_t op = 0;
    ELEVEN_RETURN_IF_ERROR(replica_->Submit(std::span(&create, 1), 0, std::span(&result, 1), &op));
    ELEVEN_RETURN_IF_ERROR(replica_->WaitDurable(op));
    if (result.code != wire::Code::ok) {
      return Status::FailedPrecondition("the festival's operator key was refused: " +
                                        std::string(wire::CodeName(result.code)));
    }
    op_base_ = op;
    issuer_ = static_cast<uint32_t>(result.id);
    ELEVEN_ASSERT(op_base_ == 1 && issuer_ == 1);
    return Status::Ok();
  }
  std::string mode() const override { return "embedded"; }

  Status Submit(std::span<const wire::Command> commands, uint64_t at_us, std::span<wire::Result> results,
                uint64_t* ticket) override {
    ELEVEN_ASSERT(results.size() >= commands.size());
    const uint64_t t = *ticket = ++submitted_;
    std::vector<wire::Command> stamped;  // with a key: the commands, issued by it
    if (issuer_ != 0) {
      stamped.assign(commands.begin(), commands.end());
      for (wire::Command& c : stamped) wire::SetIssuer(c, issuer_);
    }
    Post([this, commands, stamped = std::move(stamped), at_us, results, t] {
      const uint64_t started = MonotonicNs();
      uint64_t op = 0;
      const Status status =
          replica_->Submit(stamped.empty() ? commands : std::span<const wire::Command>(stamped), at_us, results, &op);
      busy_ns_.fetch_add(MonotonicNs() - started, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(mu_);
      if (!status.ok()) {
        FailLocked(status);
        return;
      }
      ELEVEN_ASSERT(op == t + op_base_);  // every later log entry comes through here, one per ticket
      applied_ = t;
      festival_cv_.notify_all();
    });
    return Status::Ok();
  }
  uint64_t ticket_done(bool durable) override {
    std::lock_guard<std::mutex> lock(mu_);
    return durable ? durable_ : applied_;
  }
  Status Wait(uint64_t ticket, bool durable) override {
    ELEVEN_ASSERT(ticket <= submitted_);
    std::unique_lock<std::mutex> lock(mu_);
    festival_cv_.wait(lock, [&] { return !failure_.ok() || (durable ? durable_ : applied_) >= ticket; });
    return failure_;
  }

  uint64_t RequestLookup(protocol::Operation op, std::vector<uint64_t> keys) override {
    const uint64_t token = ++lookups_requested_;
    Post([this, op, keys = std::move(keys), token] {
      const size_t size = protocol::QueryRecordSize(op);
      LookupAnswer answer;
      answer.codes.resize(keys.size());
      answer.records.resize(keys.size() * size);
      for (size_t i = 0; i < keys.size(); i++) {
        std::byte* record = answer.records.data() + i * size;
        answer.codes[i] = LookupOne(op, keys[i], record);
        if (answer.codes[i] != wire::Code::ok) std::memset(record, 0, size);
      }
      std::lock_guard<std::mutex> lock(mu_);
      lookups_.emplace(token, std::move(answer));
      festival_cv_.notify_all();
    });
    return token;
  }
  Status TakeLookup(uint64_t token, LookupAnswer* answer) override {
    ELEVEN_ASSERT(token != 0 && token <= lookups_requested_);
    return TakeAnswer(lookups_, token, answer);
  }
  uint64_t RequestFigures() override {
    const uint64_t token = ++figures_requested_;
    Post([this, token] {
      const wire::FiguresRecord figures = replica_->engine().fulfilment()->QueryFigures();
      std::lock_guard<std::mutex> lock(mu_);
      figures_.emplace(token, figures);
      festival_cv_.notify_all();
    });
    return token;
  }
  Status TakeFigures(uint64_t token, wire::FiguresRecord* figures) override {
    ELEVEN_ASSERT(token != 0 && token <= figures_requested_);
    return TakeAnswer(figures_, token, figures);
  }

  Status Finish(BackendFinal* final) override {
    ELEVEN_RETURN_IF_ERROR(Wait(submitted_, true));
    return RunOnEngine([&] {
      const engine::Engine& engine = replica_->engine();
      engine.CheckInvariants();
      final->stats = engine::StatsRecordOf(engine.stats());
      const Digest128 digest = engine.Digest();
      final->digest = {engine.last_op(), engine.last_timestamp_us(), digest.low, digest.high};
      final->journal_known = true;
      final->journal_bytes = replica_->journal_bytes_written();
      final->journal_syncs = replica_->journal_sync_count();
      const engine::SalesFigures& total = engine.sales().total;
      final->sales = {wire::SalesDimension::kTotal,
                      {},
                      0,
                      total.gross_fen,
                      total.discounts_fen,
                      total.refunds_fen,
                      total.gross_fen - total.discounts_fen - total.refunds_fen,
                      total.orders,
                      total.units};
      return Status::Ok();
    });
  }

  uint64_t engine_busy_ns() const override { return busy_ns_.load(std::memory_order_relaxed); }
  bool can_snapshot() const override { return true; }
  Status StartSnapshot() override {
    ELEVEN_RETURN_IF_ERROR(RunOnEngine([&] { return replica_->StartSnapshot(); }));
    snapshot_running_ = true;
    return Status::Ok();
  }
  bool snapshot_running() const override { return snapshot_running_; }
  Status PollSnapshot(bool wait, bool* done, replica::SnapshotReport* report) override {
    ELEVEN_RETURN_IF_ERROR(RunOnEngine([&] { return replica_->PollSnapshot(wait, done, report); }));
    if (*done) snapshot_running_ = false;
    return Status::Ok();
  }

 private:
  // The engine thread: jobs in order, each followed by a hand-over to the sync thread; when
  // there is no job, a hand-over each time a sync ends.
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      engine_cv_.wait(lock, [&] { return !jobs_.empty() || kick_ || stopping_; });
      if (!jobs_.empty()) {
        std::function<void()> job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        replica_->Flush();
        lock.lock();
      } else if (kick_) {
        kick_ = false;
        lock.unlock();
        replica_->Flush();
        const Status journal = replica_->journal_failure();
        lock.lock();
        if (!journal.ok()) FailLocked(journal);
      } else {
        return;  // stopping, every job run
      }
    }
  }
  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    engine_cv_.notify_one();
  }
  // Runs `fn` on the engine thread after everything queued, and waits for it.
  Status RunOnEngine(std::function<Status()> fn) {
    bool done = false;
    Status status;
    Post([&] {
      Status s = fn();
      std::lock_guard<std::mutex> lock(mu_);
      status = std::move(s);
      done = true;
      festival_cv_.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu_);
    festival_cv_.wait(lock, [&] { return done; });
    return status;
  }
  // Waits for `token`'s answer (put into `answers` by the engine thread) and moves it out.
  template <typename T>
  Status TakeAnswer(std::unordered_map<uint64_t, T>& answers, uint64_t token, T* out) {
    std::unique_lock<std::mutex> lock(mu_);
    festival_cv_.wait(lock, [&] { return answers.count(token) != 0 || !failure_.ok(); });
    ELEVEN_RETURN_IF_ERROR(failure_);
    auto it = answers.find(token);
    *out = std::move(it->second);
    answers.erase(it);
    return Status::Ok();
  }
  void FailLocked(const Status& status) {
    if (failure_.ok()) failure_ = status;
    festival_cv_.notify_all();
  }

  // Engine thread only.
  wire::Code LookupOne(protocol::Operation op, uint64_t key, void* record) const {
    const engine::Engine& engine = replica_->engine();
    switch (op) {
      case protocol::Operation::kGetOrderByKey: return engine.GetOrderByKey(key, static_cast<wire::OrderRecord*>(record));
      case protocol::Operation::kGetDrop: return engine.GetDrop(key, static_cast<wire::DropRecord*>(record));
      case protocol::Operation::kGetShipment:
        return engine.fulfilment()->QueryShipment(key, static_cast<wire::ShipmentRecord*>(record));
      case protocol::Operation::kGetParcel:
        return engine.fulfilment()->QueryParcel(key, static_cast<wire::ParcelRecord*>(record));
      case protocol::Operation::kGetCoupon:
        return engine.GetCoupon(key, static_cast<wire::CouponRecord*>(record));
      case protocol::Operation::kGetPresale:
        return engine.GetPresale(key, static_cast<wire::PresaleRecord*>(record));
      default: break;
    }
    ELEVEN_ASSERT(false &&
                  "the festival looks up only orders by key, drops, shipments, parcels, coupons "
                  "and pre-sales");
    return wire::Code::invalid_operation;
  }

  const std::string data_dir_;
  const bool snapshot_follower_;
  const std::string key_;  // the operator key's secret, or empty (issuer 0)
  uint64_t op_base_ = 0;   // log entries before the festival's first (the key's)
  uint32_t issuer_ = 0;    // set by Open; the key id stamped into every command
  // Festival thread only.
  uint64_t submitted_ = 0;
  uint64_t lookups_requested_ = 0;
  uint64_t figures_requested_ = 0;
  bool snapshot_running_ = false;
  std::atomic<uint64_t> busy_ns_{0};  // added to by the engine thread only

  std::mutex mu_;
  std::condition_variable engine_cv_;    // jobs, a sync that ended, or stopping
  std::condition_variable festival_cv_;  // an answer, a ticket applied or durable, a failure
  std::deque<std::function<void()>> jobs_;
  bool kick_ = false;
  bool stopping_ = false;
  uint64_t applied_ = 0;
  uint64_t durable_ = 0;  // in tickets: the durable op less op_base_
  Status failure_;
  std::unordered_map<uint64_t, LookupAnswer> lookups_;
  std::unordered_map<uint64_t, wire::FiguresRecord> figures_;
  std::thread thread_;
  // Last: destroyed first, so its sync thread is gone before the lock its callback takes.
  std::unique_ptr<replica::Replica> replica_;
};

}  // namespace

std::unique_ptr<FestivalBackend> MakeEmbeddedBackend(const std::string& data_dir, bool snapshot_follower,
                                                     const std::string& key) {
  return std::make_unique<EmbeddedBackend>(data_dir, snapshot_follower, key);
}

}  // namespace eleven::sim
