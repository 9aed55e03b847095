// SPDX-License-Identifier: Apache-2.0
// ShardedAccumulator: concurrent writers, consistent reads, nothing lost.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <switchyard/stats/co_moments.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/sharded_accumulator.hpp>
#include <thread>
#include <vector>

namespace switchyard::stats {
namespace {

TEST(ShardedAccumulatorTest, concurrent_writers_lose_nothing) {
  constexpr int kThreads = 4, kPerThread = 200000;
  ShardedAccumulator<RunningMoments> acc;
  ShardedAccumulator<ProportionCounter> conversions;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        acc.add(static_cast<double>(t));
        conversions.add(i % 10 == 0);
      }
    });
  }
  for (auto& th : ts) th.join();
  const RunningMoments m = acc.snapshot();
  EXPECT_EQ(m.count(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_NEAR(m.mean(), 1.5, 1e-12);  // threads 0..3 in equal numbers; merge order rounds
  // population variance of {0,1,2,3} equally weighted is 1.25
  EXPECT_NEAR(m.population_variance(), 1.25, 1e-12);
  EXPECT_EQ(conversions.snapshot().trials(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(conversions.snapshot().successes(),
            static_cast<std::uint64_t>(kThreads * kPerThread / 10));
}

// A reader snapshotting while a writer adds 0, 2, 0, 2, ... must always see a state some prefix
// of the stream produced: count n and sum 2 * floor(n / 2). A torn read (count from one update,
// mean from another) would break that.
TEST(ShardedAccumulatorTest, snapshots_are_consistent_while_writing) {
  ShardedAccumulator<RunningMoments> acc;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 300000; ++i) acc.add(i % 2 == 0 ? 0.0 : 2.0);
    done.store(true);
  });
  std::uint64_t last = 0;
  int bad = 0, reads = 0;
  while (!done.load()) {
    const RunningMoments m = acc.snapshot();
    ++reads;
    if (m.count() < last) ++bad;
    last = m.count();
    const double expected_sum = 2.0 * static_cast<double>(m.count() / 2);
    if (std::fabs(m.sum() - expected_sum) > 1e-6 * (1.0 + expected_sum)) ++bad;
  }
  writer.join();
  EXPECT_EQ(bad, 0) << "over " << reads << " reads";
  EXPECT_EQ(acc.snapshot().count(), 300000u);
}

TEST(ShardedAccumulatorTest, works_with_co_moments) {
  ShardedAccumulator<CoMoments> acc;
  std::thread a([&] {
    for (int i = 0; i < 1000; ++i) acc.add(static_cast<double>(i), 2.0 * i);
  });
  std::thread b([&] {
    for (int i = 1000; i < 2000; ++i) acc.add(static_cast<double>(i), 2.0 * i);
  });
  a.join();
  b.join();
  const CoMoments m = acc.snapshot();
  EXPECT_EQ(m.count(), 2000u);
  EXPECT_NEAR(m.correlation(), 1.0, 1e-12);
  EXPECT_NEAR(m.covariance(), 2.0 * m.variance_x(), 1e-6);
}

}  // namespace
}  // namespace switchyard::stats
