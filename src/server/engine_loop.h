// The engine thread of the server: the one thread that owns the Replica.
//
// Requests arrive through a bounded SPSC inbox from the I/O thread. The loop merges the
// submit requests it finds into one batch of at most batch_command_count_max commands (many
// connections, one journal entry), submits it, hands staged entries to the sync thread, and
// answers queries and feed polls from the engine state in log order (no lock: only this
// thread reads the engine). Every request then goes straight back through the bounded SPSC
// outbox, carrying the op it saw; the I/O thread holds it there (PopDone) until that op is
// durable. The replica's sync thread writes the I/O thread's eventfd itself when durability
// advances, so a reply waits for one thread hand-over after its sync, not two (sync thread,
// engine thread, I/O thread).
//
// Log time: in wall-clock mode every batch is stamped with the server's clock; in client-clock
// mode (simulation and replays) with the time of the last accepted set_clock request, which
// only moves forward. A set_clock, like a query, first submits the commands gathered before
// it, so they keep the time they were sent under.
//
// Ticks (wall-clock mode): time-driven work (Engine::NextDueUs: expiries, drop windows,
// ledger timeouts, instalment due dates) is done by the first entry at or after its time. So
// that an idle server does it too, the loop appends an entry with no commands (a tick,
// Replica::Tick) once something is due, at most `tick_late_ms_max` after it fell due and at
// most one per `tick_late_ms_max` (work left over by the engine's per-batch budgets, at once).
// A server with nothing due writes nothing. In client-clock mode time moves only by
// set_clock, and due work is done by the next batch, as in the embedded festival.
//
// Snapshots: once `snapshot_journal_bytes` of journal were written since the last snapshot
// (the journal recovery replayed counts as written: Replica::journal_bytes_replayed),
// the loop starts one (Replica::StartSnapshot: it waits for durability and forks; the child
// writes it) and then only polls for its end on each pass, so apply stalls for the fork alone.
// A failed snapshot is logged and counted; the next is tried after as much journal again,
// since the journal still holds everything.
//
// Journal failure (Replica::journal_failed): the sync thread's callback wakes both threads.
// PopDone then lets every request out, those whose op is not durable as kReplicaFailed; later
// submits are refused by the replica (nothing applied) and later queries and feed polls are
// not answered from a state holding undurable commands (kReplicaFailed too). The loop logs
// the failure once (ReportJournalFailure) and starts no more snapshots.
//
// Bounds: inbox, outbox and the I/O thread's hold hold request_count_max requests, which is
// the size of the I/O thread's RequestPool, so none can overflow: the pool refusing a request
// (busy) is the back-pressure. The loop sleeps on an eventfd when it has nothing to do; the
// I/O thread writes it only when the loop says it is asleep (while a sync runs, only for a
// request that cannot wait for the sync's end: see Sleep()), and the replica's sync thread
// writes it whenever durability advances (the next staged entries are then handed over).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "base/status.h"
#include "replica/replica.h"
#include "replica/role.h"
#include "server/api_keys.h"
#include "server/metrics.h"
#include "server/queries.h"
#include "server/request.h"
#include "server/spsc_ring.h"

namespace eleven::server {

class EngineLoop {
 public:
  // `replica` must outlive the loop; after Start() only the loop's thread may use it.
  EngineLoop(replica::Replica* replica, uint32_t request_count_max, EngineMetrics* metrics,
             protocol::ClockMode clock = protocol::ClockMode::kWall,
             uint64_t snapshot_journal_bytes = 0, uint32_t tick_late_ms_max = kTickLateMsDefault);
  static constexpr uint32_t kTickLateMsDefault = 100;
  ~EngineLoop();  // stops the thread if running
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Where the loop publishes the API key table after a batch that created or revoked a key
  // (docs/access.md). Before Start(); `keys` must outlive the loop.
  void set_keys(ApiKeyDirectory* keys) { keys_ = keys; }
  // Cluster mode (docs/cluster.md): the node's role. While it does not lead, submits are
  // answered not_leader with the leader's address and nothing is ticked; each pass lets the
  // role apply what the log delivered. Before Start(); `role` must outlive the loop.
  void set_role(replica::ReplicaRole* role) { role_ = role; }
  // Any thread: wakes the loop (e.g. the log delivered an entry).
  void Wake();

  [[nodiscard]] Status Start();
  // Stops taking requests, waits until everything submitted is durable and released, joins.
  void Stop();

  // I/O thread. Never fails: the inbox has room for every request the pool can hand out.
  void Push(Request* request);
  // I/O thread: the next request whose reply may leave (its op is durable), or false. After
  // Stop(), or as soon as the journal failed, every request comes out; one whose op never
  // became durable with status kReplicaFailed, so its reply shows nothing undurable.
  bool PopDone(Request** request);
  // I/O thread: readable when PopDone may have something (read it to reset).
  int done_fd() const { return done_fd_; }
  // Any thread: the last op on disk (every reply released so far saw an op at or below it).
  uint64_t op_durable() const { return replica_->op_durable(); }
  // Any thread: whether the journal failed, and how (ok while it is healthy).
  bool journal_failed() const { return replica_->journal_failed(); }
  [[nodiscard]] Status journal_failure() const { return replica_->journal_failure(); }
  // I/O thread: requests applied whose reply waits for durability.
  uint64_t waiting_count() const { return waiting_tail_ - waiting_head_ + outbox_.SizeApprox(); }

 private:
  void Run();
  bool Gather();
  void AddSubmit(Request* request);
  void RefuseSubmit(Request* request, wire::Code code);
  void RefuseNotLeader(Request* request);
  bool TendRole();
  void SubmitBatch();
  void Answer(Request* request);
  void AnswerQuery(Request* request);
  void AnswerFeedPoll(Request* request);
  void AnswerSetClock(Request* request);
  uint64_t LogTimeUs() const;
  void Pass(Request* request);
  void SignalPassed();
  void Sleep();
  // Wall-clock mode: appends a tick if something is due (see "Ticks"); true if it did. Sets
  // tick_wait_ms_, how long the loop may sleep before the next one is due.
  bool TendTicks();
  void TendSnapshot();
  void ReportJournalFailure();

  replica::Replica* const replica_;
  const uint32_t batch_command_count_max_;
  const protocol::ClockMode clock_mode_;
  const uint64_t snapshot_journal_bytes_;
  const uint64_t tick_late_us_max_;
  EngineMetrics* const metrics_;
  SpscRing<Request*> inbox_;
  SpscRing<Request*> outbox_;
  int wake_fd_ = -1;
  int done_fd_ = -1;
  enum class Sleeping : uint8_t {
    kAwake,
    kAsleep,        // every push wakes the loop
    kUntilDurable,  // a sync runs: only a push that cannot wait for its end wakes the loop
  };
  std::atomic<Sleeping> sleeping_{Sleeping::kAwake};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};  // the thread is joined: nothing more becomes durable
  std::thread thread_;

  // Engine thread only.
  std::vector<wire::Command> batch_;       // capacity batch_command_count_max
  std::vector<wire::Result> results_;      // capacity batch_command_count_max
  std::vector<Request*> batch_requests_;   // whose commands are in batch_, in order
  uint32_t batch_count_ = 0;
  uint64_t passed_op_min_ = UINT64_MAX;  // the lowest op passed to the outbox this round
  QueryAnswerer answerer_;
  ApiKeyDirectory* keys_ = nullptr;
  replica::ReplicaRole* role_ = nullptr;
  uint64_t client_clock_us_ = 0;  // client-clock mode: the log time of the next batch
  uint64_t journal_bytes_at_snapshot_ = 0;  // when the last snapshot was started
  uint64_t due_at_op_ = UINT64_MAX;         // the op the engine was at when due_us_ was asked
  uint64_t due_us_ = 0;                     // Engine::NextDueUs() at due_at_op_
  int tick_wait_ms_ = 0;                    // Sleep's longest wait (kSleepMsMax without ticks)
  bool failure_reported_ = false;  // the journal's failure was logged

  // I/O thread only: requests out of the outbox, in op order, waiting for their op to be
  // durable (a ring of request_count_max).
  std::unique_ptr<Request*[]> waiting_;
  uint64_t waiting_head_ = 0;
  uint64_t waiting_tail_ = 0;
  const uint64_t waiting_capacity_;
};

}  // namespace eleven::server
