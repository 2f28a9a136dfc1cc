#include "sim/time_queue.h"

#include <gtest/gtest.h>

#include <functional>
#include <queue>
#include <random>
#include <vector>

#include "base/test_seed.h"

namespace eleven::sim {
namespace {

struct Ev {
  uint64_t at_us;
  uint64_t sequence;
  bool operator>(const Ev& o) const { return at_us != o.at_us ? at_us > o.at_us : sequence > o.sequence; }
};

// Random pushes (past, near, beyond the ring, on bucket edges) and ticks of random lengths,
// against a heap: every tick must give the same events in the same order.
TEST(TimeQueue, TakesWhatAHeapWouldInTheSameOrder) {
  const uint64_t seed = TestSeed("TimeQueue random test");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; round++) {
    const uint64_t width = 1 + rng() % 50;
    TimeQueue<Ev> queue(width, 1 + rng() % 64);
    std::priority_queue<Ev, std::vector<Ev>, std::greater<Ev>> heap;
    uint64_t now = 0, sequence = 0;
    std::vector<Ev> got;
    for (int tick = 0; tick < 400; tick++) {
      const int pushes = int(rng() % 40);
      for (int i = 0; i < pushes; i++) {
        uint64_t at = 0;
        switch (rng() % 4) {
          case 0: at = now > 0 ? rng() % now : 0; break;               // already past
          case 1: at = now + rng() % (3 * width); break;                // near
          case 2: at = now + rng() % (width * 200); break;              // often beyond the ring
          default: at = (now / width + rng() % 5) * width; break;       // on a bucket edge
        }
        const Ev e{at, sequence++};
        queue.Push(e);
        heap.push(e);
      }
      const uint64_t end = now + (rng() % 4 == 0 ? 0 : rng() % (width * 20));
      got.clear();
      queue.PopBefore(end, &got);
      std::vector<Ev> want;
      while (!heap.empty() && heap.top().at_us < end) {
        want.push_back(heap.top());
        heap.pop();
      }
      ASSERT_EQ(got.size(), want.size()) << "round " << round << " tick " << tick;
      for (size_t i = 0; i < got.size(); i++) {
        ASSERT_EQ(got[i].sequence, want[i].sequence) << "round " << round << " tick " << tick << " event " << i;
      }
      ASSERT_EQ(queue.size(), heap.size());
      now = end;
    }
  }
}

}  // namespace
}  // namespace eleven::sim
