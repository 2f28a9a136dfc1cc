// The engine thread of the server: the one thread that owns the Replica.
//
// Requests arrive through a bounded SPSC inbox from the I/O thread. The loop merges the
// submit requests it finds into one batch of at most batch_command_count_max commands (many
// connections, one journal entry), submits it, hands staged entries to the sync thread, and
// answers queries and feed polls from the engine state in log order (no lock: only this
// thread reads the engine). Every request is then held until the op it saw is durable, and
// only then passed back through the bounded SPSC outbox; an eventfd tells the I/O thread.
//
// Log time: in wall-clock mode every batch is stamped with the server's clock; in client-clock
// mode (simulation and replays) with the time of the last accepted set_clock request, which
// only moves forward. A set_clock, like a query, first submits the commands gathered before
// it, so they keep the time they were sent under.
//
// Snapshots: once `snapshot_journal_bytes` of journal were written since the last snapshot,
// the loop starts one (Replica::StartSnapshot: it waits for durability and forks; the child
// writes it) and then only polls for its end on each pass, so apply stalls for the fork alone.
// A failed snapshot is logged and counted; the next is tried after as much journal again,
// since the journal still holds everything.
//
// Bounds: inbox and outbox hold request_count_max requests, which is the size of the I/O
// thread's RequestPool, so neither ring can overflow: the pool refusing a request (busy) is
// the back-pressure. The loop sleeps on an eventfd when it has nothing to do; the I/O thread
// writes it only when the loop says it is asleep, and the replica's sync thread writes it
// whenever durability advances.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "base/status.h"
#include "replica/replica.h"
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
             uint64_t snapshot_journal_bytes = 0);
  ~EngineLoop();  // stops the thread if running
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  [[nodiscard]] Status Start();
  // Stops taking requests, waits until everything submitted is durable and released, joins.
  void Stop();

  // I/O thread. Never fails: the inbox has room for every request the pool can hand out.
  void Push(Request* request);
  // I/O thread: the next request whose reply may leave, or false.
  bool PopDone(Request** request) { return outbox_.Pop(request); }
  // I/O thread: readable when PopDone has something (read it to reset).
  int done_fd() const { return done_fd_; }

 private:
  void Run();
  bool Gather();
  void AddSubmit(Request* request);
  void SubmitBatch();
  void Answer(Request* request);
  void AnswerQuery(Request* request);
  void AnswerFeedPoll(Request* request);
  void AnswerSetClock(Request* request);
  uint64_t LogTimeUs() const;
  void Hold(Request* request);
  bool Release();
  void Sleep();
  void TendSnapshot();
  void FailPending();

  replica::Replica* const replica_;
  const uint32_t batch_command_count_max_;
  const protocol::ClockMode clock_mode_;
  const uint64_t snapshot_journal_bytes_;
  EngineMetrics* const metrics_;
  SpscRing<Request*> inbox_;
  SpscRing<Request*> outbox_;
  int wake_fd_ = -1;
  int done_fd_ = -1;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // Engine thread only.
  std::vector<wire::Command> batch_;       // capacity batch_command_count_max
  std::vector<wire::Result> results_;      // capacity batch_command_count_max
  std::vector<Request*> batch_requests_;   // whose commands are in batch_, in order
  uint32_t batch_count_ = 0;
  std::unique_ptr<Request*[]> held_;       // a ring of request_count_max: waiting for durable
  uint64_t held_head_ = 0;
  uint64_t held_tail_ = 0;
  const uint64_t held_capacity_;
  QueryAnswerer answerer_;
  uint64_t client_clock_us_ = 0;  // client-clock mode: the log time of the next batch
  uint64_t journal_bytes_at_snapshot_ = 0;  // when the last snapshot was started
};

}  // namespace eleven::server
