// SPDX-License-Identifier: Apache-2.0
// A fleet's canary figures: merge_figures()/merge_window() are exact (counts, histogram
// quantiles equal to one histogram fed every value, moments; samples concatenated, subsampled by
// weight beyond the cap, deterministically); encode/decode_canary_window() round-trip and refuse
// every damaged blob with a typed error; ClusterCanaryMetrics flushes per aligned window, merges
// for the leader, waits a bounded grace for a missing replica and reports it, forgets a dead one,
// prunes old rows (in-memory and SQLite stores); and a leader's CanaryController rolls back on
// another replica's errors that its own view does not show. Time runs on a ManualClock.
#include <switchyard/rollout/cluster_canary_metrics.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <switchyard/core/model_source.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/canary_window_codec.hpp>

#include "support/fake_models.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace cluster_canary_metrics_test {

using namespace std::chrono_literals;

// Deterministic latencies spread over several decades (a linear congruential generator).
struct Latencies {
  std::uint64_t state;
  std::uint64_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return 1'000 + (state >> 33) % 50'000'000;  // 1 us to 50 ms
  }
};

CanaryMetrics::Options metric_options(const Clock* clock, std::size_t sample = 100'000) {
  return {.versions = {1, 2}, .metrics = {"revenue"}, .latency_sample = sample, .clock = clock};
}

void feed(CanaryMetrics& m, std::uint64_t seed, int n, int error_every) {
  Latencies lat{seed};
  for (int i = 0; i < n; ++i) {
    const std::int64_t version = 1 + i % 2;
    const bool ok = (i % error_every) != 0;
    ASSERT_TRUE(m.record_request(version, ok, lat.next()));
    ASSERT_TRUE(m.record(version, "revenue", 0.5 + static_cast<double>(i % 17) * 1.25));
  }
  ASSERT_TRUE(m.record_labels(2, static_cast<std::uint64_t>(n / 4),
                              static_cast<std::uint64_t>(n / 5)));
}

void expect_same_figures(const CanaryVersionFigures& a, const CanaryVersionFigures& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.requests, b.requests);
  EXPECT_EQ(a.errors, b.errors);
  EXPECT_EQ(a.fallbacks, b.fallbacks);
  EXPECT_EQ(a.labelled, b.labelled);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.latency.count(), b.latency.count());
  EXPECT_EQ(a.latency.sum(), b.latency.sum());
  EXPECT_EQ(a.latency.min(), b.latency.min());
  EXPECT_EQ(a.latency.max(), b.latency.max());
  for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) {
    ASSERT_EQ(a.latency.bucket_count(i), b.latency.bucket_count(i)) << "bucket " << i;
  }
  EXPECT_EQ(a.latency_sample_ns, b.latency_sample_ns);
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    EXPECT_EQ(a.metrics[i].name, b.metrics[i].name);
    EXPECT_EQ(a.metrics[i].count, b.metrics[i].count);
    EXPECT_EQ(a.metrics[i].sum, b.metrics[i].sum);
    EXPECT_EQ(a.metrics[i].sum_squares, b.metrics[i].sum_squares);
  }
}

void expect_same_window(const CanaryWindow& a, const CanaryWindow& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.end, b.end);
  EXPECT_EQ(a.ignored_requests, b.ignored_requests);
  EXPECT_EQ(a.labels_unmatched, b.labels_unmatched);
  EXPECT_EQ(a.labels_duplicate, b.labels_duplicate);
  ASSERT_EQ(a.window.size(), b.window.size());
  for (std::size_t i = 0; i < a.window.size(); ++i) expect_same_figures(a.window[i], b.window[i]);
  ASSERT_EQ(a.cumulative.size(), b.cumulative.size());
  for (std::size_t i = 0; i < a.cumulative.size(); ++i) {
    expect_same_figures(a.cumulative[i], b.cumulative[i]);
  }
}

// ---- merge ----------------------------------------------------------------------------------

TEST(CanaryFiguresMergeTest, merge_is_exact_counts_histogram_quantiles_and_moments) {
  ManualClock clock;
  CanaryMetrics a(metric_options(&clock)), b(metric_options(&clock)), all(metric_options(&clock));
  // Replica A serves one stream, replica B another; `all` sees both.
  feed(a, 11, 3000, 7);
  feed(b, 29, 5000, 3);
  feed(all, 11, 3000, 7);
  feed(all, 29, 5000, 3);
  clock.advance(1min);
  CanaryWindow merged = a.roll_window();
  merge_window(merged, b.roll_window(), 100'000);
  const CanaryWindow expected = all.roll_window();
  for (std::int64_t version : {1, 2}) {
    const CanaryVersionFigures& m = *merged.find(version);
    const CanaryVersionFigures& e = *expected.find(version);
    EXPECT_EQ(m.requests, e.requests);
    EXPECT_EQ(m.errors, e.errors);
    EXPECT_EQ(m.labelled, e.labelled);
    EXPECT_EQ(m.correct, e.correct);
    EXPECT_DOUBLE_EQ(m.error_rate(), e.error_rate());
    EXPECT_EQ(m.latency.count(), e.latency.count());
    EXPECT_EQ(m.latency.sum(), e.latency.sum());
    EXPECT_EQ(m.latency.min(), e.latency.min());
    EXPECT_EQ(m.latency.max(), e.latency.max());
    for (double q : {0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
      EXPECT_EQ(m.latency.quantile(q), e.latency.quantile(q)) << "q " << q;
    }
    for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) {
      ASSERT_EQ(m.latency.bucket_count(i), e.latency.bucket_count(i)) << "bucket " << i;
    }
    const MetricMoments& mm = *m.metric("revenue");
    const MetricMoments& em = *e.metric("revenue");
    EXPECT_EQ(mm.count, em.count);
    // Sums of the same values added in another order: equal to rounding.
    EXPECT_NEAR(mm.sum, em.sum, 1e-12 * em.sum);
    EXPECT_NEAR(mm.sum_squares, em.sum_squares, 1e-12 * em.sum_squares);
    EXPECT_NEAR(mm.mean(), em.mean(), 1e-12 * em.mean());
    EXPECT_NEAR(mm.variance(), em.variance(), 1e-9 * em.variance());
    // Under the cap every value is kept: the merged sample is both replicas' values.
    std::vector<double> ms = m.latency_sample_ns, es = e.latency_sample_ns;
    std::sort(ms.begin(), ms.end());
    std::sort(es.begin(), es.end());
    EXPECT_EQ(ms, es);
    EXPECT_EQ(ms.size(), e.latency.count());
  }
  // The cumulative figures merge the same way.
  EXPECT_EQ(merged.find_cumulative(2)->requests, expected.find_cumulative(2)->requests);
  EXPECT_EQ(merged.find_cumulative(2)->latency.quantile(0.99),
            expected.find_cumulative(2)->latency.quantile(0.99));
}

TEST(CanaryFiguresMergeTest, beyond_the_cap_samples_are_drawn_by_weight_deterministically) {
  CanaryVersionFigures small, large;
  small.version = large.version = 2;
  Latencies lat{5};
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = lat.next() % 1'000'000;  // below one million
    small.latency.record(v);
    small.latency_sample_ns.push_back(static_cast<double>(v));
  }
  for (int i = 0; i < 3000; ++i) {
    const std::uint64_t v = 2'000'000 + lat.next();  // above one million
    large.latency.record(v);
    if (i < 1000) large.latency_sample_ns.push_back(static_cast<double>(v));
  }
  CanaryVersionFigures once = small, again = small, other_seed = small;
  merge_figures(once, large, 1000, 42);
  merge_figures(again, large, 1000, 42);
  merge_figures(other_seed, large, 1000, 43);
  ASSERT_EQ(once.latency_sample_ns.size(), 1000u);
  EXPECT_EQ(once.latency_sample_ns, again.latency_sample_ns) << "deterministic";
  EXPECT_NE(once.latency_sample_ns, other_seed.latency_sample_ns);
  const auto from_large = std::count_if(once.latency_sample_ns.begin(),
                                        once.latency_sample_ns.end(),
                                        [](double v) { return v > 1'000'000; });
  // The large side stands for 3,000 of 4,000 answers: 750 expected, sd about 12.
  EXPECT_GT(from_large, 690);
  EXPECT_LT(from_large, 810);
  EXPECT_EQ(once.latency.count(), 4000u);
}

// ---- the blob -------------------------------------------------------------------------------

CanaryWindow sample_window() {
  ManualClock clock;
  CanaryMetrics m(metric_options(&clock, 64));
  feed(m, 3, 400, 9);
  m.record_label("unknown", true);
  clock.advance(1min);
  return m.roll_window();
}

TEST(CanaryWindowCodecTest, round_trips_every_field) {
  const CanaryWindow w = sample_window();
  const std::string bytes = encode_canary_window(w);
  EXPECT_EQ(bytes.substr(0, 5), std::string("SYCW\x01"));
  expect_same_window(decode_canary_window(bytes), w);
  // Compact: the histograms keep only their non-zero buckets.
  EXPECT_LT(bytes.size(), 2 * (64 * 8) + 4 * 8 * 400 + 2000) << bytes.size();
  const CanaryWindow empty;
  expect_same_window(decode_canary_window(encode_canary_window(empty)), empty);
  // The smallest figures: no host metric, nothing answered, no sample.
  ManualClock clock;
  CanaryMetrics bare({.versions = {4, 5}, .clock = &clock});
  const CanaryWindow quiet = bare.roll_window();
  expect_same_window(decode_canary_window(encode_canary_window(quiet)), quiet);
}

TEST(CanaryWindowCodecTest, every_damaged_or_truncated_blob_is_a_typed_error) {
  const std::string good = encode_canary_window(sample_window());
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      try {
        (void)decode_canary_window(bad, "row 7");
        ADD_FAILURE() << "byte " << i << " flipped was read";
      } catch (const CorruptStore& e) {
        EXPECT_EQ(std::string(e.what()).rfind("row 7: ", 0), 0u) << e.what();
      } catch (const SchemaTooNew& e) {
        EXPECT_EQ(i, 4u) << "only the version byte says newer: " << e.what();
      }
    }
  }
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW((void)decode_canary_window(good.substr(0, n)), CorruptStore) << n << " bytes";
  }
  EXPECT_THROW((void)decode_canary_window(good + "x"), CorruptStore);
}

TEST(CanaryWindowCodecTest, impossible_figures_under_a_valid_checksum_are_refused) {
  CanaryWindow w = sample_window();
  w.window[1].errors = w.window[1].requests + 1;
  try {
    (void)decode_canary_window(encode_canary_window(w), "replica b");
    FAIL() << "more errors than requests were read";
  } catch (const CorruptStore& e) {
    EXPECT_NE(std::string(e.what()).find("window figures of version 2"), std::string::npos)
        << e.what();
  }
  w = sample_window();
  w.window[0].latency_sample_ns.push_back(std::nan(""));
  EXPECT_THROW((void)decode_canary_window(encode_canary_window(w)), CorruptStore);
  w = sample_window();
  w.cumulative.push_back(w.cumulative[0]);
  EXPECT_THROW((void)decode_canary_window(encode_canary_window(w)), CorruptStore);
}

// ---- the flush and the merge, on each store -------------------------------------------------

struct InMemoryStores {
  std::unique_ptr<InMemoryRegistryStore> first = std::make_unique<InMemoryRegistryStore>();
  std::unique_ptr<RegistryStore> open() { return first->connect(); }
};

struct SqliteStores {
  testing::TempDir dir;
  std::unique_ptr<RegistryStore> open() { return testing::open_store(dir.path() / "fleet.db"); }
};

// One replica: its own store connection, CanaryMetrics and ClusterCanaryMetrics.
struct Replica {
  std::unique_ptr<RegistryStore> store;
  std::unique_ptr<CanaryMetrics> metrics;
  std::unique_ptr<ClusterCanaryMetrics> cluster;
};

template <class Stores>
class ClusterCanaryMetricsTest : public ::testing::Test {
 protected:
  Replica replica(const std::string& name, ClusterCanaryMetrics::Options o = {}) {
    Replica r;
    r.store = stores_.open();
    r.metrics = std::make_unique<CanaryMetrics>(metric_options(&clock_, 500));
    o.store = r.store.get();
    o.metrics = r.metrics.get();
    o.rollout = "fraud-detection";
    o.replica = name;
    o.clock = &clock_;
    o.origin = origin_;
    o.interval = 1min;
    o.grace = 10s;
    r.cluster = std::make_unique<ClusterCanaryMetrics>(o);
    return r;
  }
  ManualClock clock_;
  TimePoint origin_ = clock_.now();
  Stores stores_;
};

using StoreKinds = ::testing::Types<InMemoryStores, SqliteStores>;
TYPED_TEST_SUITE(ClusterCanaryMetricsTest, StoreKinds);

TYPED_TEST(ClusterCanaryMetricsTest, windows_are_aligned_on_the_clock_from_the_origin) {
  Replica a = this->replica("a");
  EXPECT_EQ(a.cluster->window_index(this->origin_ - 1h), 0);
  EXPECT_EQ(a.cluster->window_index(this->origin_ + 59s), 0);
  EXPECT_EQ(a.cluster->window_index(this->origin_ + 60s), 1);
  EXPECT_EQ(a.cluster->window_index(this->origin_ + 10min + 1s), 10);
  EXPECT_EQ(a.cluster->window_end(2), this->origin_ + 3min);
  EXPECT_EQ(a.cluster->flush(), std::nullopt) << "no boundary passed";
  this->clock_.advance(61s);
  EXPECT_EQ(a.cluster->flush(), 0);
  EXPECT_EQ(a.cluster->flush(), std::nullopt) << "once per window";
}

TYPED_TEST(ClusterCanaryMetricsTest, the_leader_judges_the_merge_of_every_replica) {
  Replica a = this->replica("a"), b = this->replica("b");
  ASSERT_TRUE(a.metrics->record_batch(2, {.requests = 1000, .errors = 5}));
  ASSERT_TRUE(b.metrics->record_batch(2, {.requests = 3000, .errors = 300}));
  ASSERT_TRUE(b.metrics->record_batch(1, {.requests = 4000, .errors = 20}));
  this->clock_.advance(1min + 2s);
  EXPECT_EQ(b.cluster->flush(), 0);
  const CanaryWindow w = a.cluster->next_window();  // a flushes its own, then merges
  EXPECT_EQ(w.index, 0u);
  EXPECT_EQ(w.find(2)->requests, 4000u);
  EXPECT_EQ(w.find(2)->errors, 305u);
  EXPECT_EQ(w.find(1)->requests, 4000u);
  EXPECT_NE(w.sources.find("merged from 2 replicas (a, b)"), std::string::npos) << w.sources;
  EXPECT_EQ(w.sources.find("missing"), std::string::npos) << w.sources;
  const ClusterWindow stored = a.cluster->merged(0, 0);
  EXPECT_EQ(stored.merged, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(stored.missing.empty());
  EXPECT_EQ(stored.figures.find(2)->errors, 305u);
  // Nothing new until the next window ends: empty figures, both versions present at zero.
  const CanaryWindow none = a.cluster->next_window();
  ASSERT_NE(none.find(2), nullptr);
  EXPECT_EQ(none.find(2)->requests, 0u);
}

TYPED_TEST(ClusterCanaryMetricsTest, a_missing_replica_is_awaited_for_the_grace_then_reported) {
  Replica a = this->replica("a"), b = this->replica("b");
  this->clock_.advance(1min + 1s);
  b.cluster->flush();
  EXPECT_NE(a.cluster->next_window().sources.find("(a, b)"), std::string::npos);
  // Window 1: b stops (dead or stalled); a counts 1000 candidate requests.
  ASSERT_TRUE(a.metrics->record_batch(2, {.requests = 1000, .errors = 1}));
  this->clock_.advance(1min);  // window 1 ended 1 s ago
  CanaryWindow w = a.cluster->next_window();
  EXPECT_EQ(w.find(2)->requests, 0u) << "waits for b";
  EXPECT_NE(w.sources.find("window 1 waits for replicas b"), std::string::npos) << w.sources;
  this->clock_.advance(9s);  // the grace (10 s) runs out
  w = a.cluster->next_window();
  EXPECT_EQ(w.find(2)->requests, 1000u) << "judged with what it has";
  EXPECT_NE(w.sources.find("merged from 1 replicas (a); missing after the grace: b"),
            std::string::npos)
      << w.sources;
  EXPECT_EQ(a.cluster->merged(1, 1).missing, std::vector<std::string>{"b"});
  // b wrote window 0 only: it is awaited (and reported) up to window 0 + forget_after (3),
  // then taken as gone.
  for (std::int64_t window = 2; window <= 4; ++window) {
    this->clock_.advance(50s);  // `window` ended 1 s ago
    w = a.cluster->next_window();
    const bool expected_b = window <= 3;
    EXPECT_EQ(w.sources.find("waits for replicas b") != std::string::npos, expected_b)
        << "window " << window << ": " << w.sources;
    if (!expected_b) {
      EXPECT_EQ(w.sources.find("missing"), std::string::npos) << w.sources;
    }
    this->clock_.advance(10s);
    if (expected_b) {
      w = a.cluster->next_window();
      EXPECT_NE(w.sources.find("missing after the grace: b"), std::string::npos) << w.sources;
    }
  }
  // A replica that comes back is merged again.
  this->clock_.advance(50s);
  ASSERT_TRUE(b.metrics->record_batch(2, {.requests = 7, .errors = 0}));
  b.cluster->flush();
  w = a.cluster->next_window();
  EXPECT_NE(w.sources.find("(a, b)"), std::string::npos) << w.sources;
  EXPECT_EQ(w.find(2)->requests, 7u) << "b's figures since its last flush, in the last window";
}

TYPED_TEST(ClusterCanaryMetricsTest, a_replica_named_in_options_is_awaited_from_the_first_window) {
  Replica a = this->replica("a", {.replicas = {"a", "b", "c"}});
  Replica b = this->replica("b");
  this->clock_.advance(1min);
  b.cluster->flush();
  EXPECT_NE(a.cluster->next_window().sources.find("waits for replicas c"), std::string::npos);
  this->clock_.advance(10s);
  const CanaryWindow w = a.cluster->next_window();
  EXPECT_NE(w.sources.find("(a, b); missing after the grace: c"), std::string::npos) << w.sources;
}

TYPED_TEST(ClusterCanaryMetricsTest, old_windows_are_pruned_and_damaged_rows_are_typed_errors) {
  Replica a = this->replica("a", {.forget_after = 2, .keep_windows = 4});
  for (int i = 0; i < 10; ++i) {
    this->clock_.advance(1min);
    EXPECT_EQ(a.cluster->flush(), i);
  }
  const auto rows = a.store->load_window_figures("fraud-detection", 0, 100);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.front().window, 6);
  EXPECT_EQ(rows.back().window, 9);
  {
    auto tx = a.store->begin();
    WindowFigures bad = rows.back();
    bad.replica = "b";
    bad.figures[bad.figures.size() / 2] ^= 0x20;
    tx->put_window_figures(bad);
    tx->commit();
  }
  try {
    (void)a.cluster->merged(9, 9);
    FAIL() << "a damaged row was merged";
  } catch (const CorruptStore& e) {
    EXPECT_NE(std::string(e.what()).find("window 9, replica 'b'"), std::string::npos) << e.what();
  }
}

TEST(ClusterCanaryMetricsFailureTest, a_failed_write_keeps_the_figures_for_the_next_flush) {
  ManualClock clock;
  InMemoryRegistryStore store;
  auto other = store.connect();
  CanaryMetrics metrics(metric_options(&clock));
  ClusterCanaryMetrics cluster({.store = &store, .metrics = &metrics, .rollout = "r",
                                .replica = "a", .clock = &clock, .origin = clock.now()});
  ASSERT_TRUE(metrics.record_batch(2, {.requests = 40, .errors = 4}));
  clock.advance(1min);
  {
    // The store refuses this thread's write while it holds another transaction.
    auto held = other->begin();
    EXPECT_THROW(cluster.flush(), StorageError);
  }
  EXPECT_TRUE(store.load_window_figures("r", 0, 9).empty());
  EXPECT_EQ(cluster.flush(), std::nullopt) << "no new boundary";
  const auto rows = store.load_window_figures("r", 0, 9);
  ASSERT_EQ(rows.size(), 1u) << "the kept window was written";
  const CanaryWindow w = decode_canary_window(rows[0].figures);
  EXPECT_EQ(w.find(2)->errors, 4u);
}

TEST(ClusterCanaryMetricsOptionsTest, refuses_impossible_options) {
  InMemoryRegistryStore store;
  CanaryMetrics metrics(metric_options(nullptr));
  const ClusterCanaryMetrics::Options good{
      .store = &store, .metrics = &metrics, .rollout = "r", .replica = "a"};
  EXPECT_NO_THROW(ClusterCanaryMetrics{good});
  auto bad = [&](auto change) {
    ClusterCanaryMetrics::Options o = good;
    change(o);
    EXPECT_THROW(ClusterCanaryMetrics{o}, InvalidArgument);
  };
  bad([](auto& o) { o.store = nullptr; });
  bad([](auto& o) { o.metrics = nullptr; });
  bad([](auto& o) { o.rollout.clear(); });
  bad([](auto& o) { o.replica.clear(); });
  bad([](auto& o) { o.interval = Duration::zero(); });
  bad([](auto& o) { o.forget_after = 0; });
  bad([](auto& o) { o.keep_windows = o.forget_after; });
}

// ---- the leader's controller ----------------------------------------------------------------

constexpr const char* kModel = "fraud-detection";

// Replica A (the leader, controller and registry) and replica B (metrics and its own store
// connection) on one SQLite file.
struct Fleet {
  testing::RegistryFixture f;
  StaticModelSource source;
  std::int64_t stable = 0, candidate = 0;
  std::unique_ptr<Deployment> deployment;
  std::shared_ptr<CanaryMetrics> metrics_a, metrics_b;
  std::unique_ptr<RegistryStore> store_b;
  std::unique_ptr<ClusterCanaryMetrics> cluster_a, cluster_b;

  Fleet() {
    stable = f.add_production(kModel, 0.9, 1);
    candidate = f.add(kModel, 0.91, 2);
    f.registry->transition(kModel, candidate, Stage::kStaging, {.actor = "ci"});
    source.add(kModel, stable, std::make_shared<testing::ConstantModel>(0, 0.9));
    source.add(kModel, candidate, std::make_shared<testing::ConstantModel>(1, 0.8));
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = &source, .check_signatures = false});
    const CanaryMetrics::Options mo{.versions = {stable, candidate}, .clock = &f.clock};
    metrics_a = std::make_shared<CanaryMetrics>(mo);
    metrics_b = std::make_shared<CanaryMetrics>(mo);
    store_b = testing::open_store(f.db_path());
    const TimePoint origin = f.clock.now();
    cluster_a = std::make_unique<ClusterCanaryMetrics>(ClusterCanaryMetrics::Options{
        .store = f.store.get(), .metrics = metrics_a.get(), .rollout = kModel, .replica = "a",
        .clock = &f.clock, .origin = origin, .interval = 1min});
    cluster_b = std::make_unique<ClusterCanaryMetrics>(ClusterCanaryMetrics::Options{
        .store = store_b.get(), .metrics = metrics_b.get(), .rollout = kModel, .replica = "b",
        .clock = &f.clock, .origin = origin, .interval = 1min});
  }
  CanaryController::Options options(bool cluster) {
    CanaryController::Options o{.deployment = deployment.get(),
                                .registry = f.registry.get(),
                                .metrics = metrics_a.get(),
                                .clock = &f.clock,
                                .owner = "controller-a",
                                .lease_ttl = 10min};
    if (cluster) o.window_source = [this] { return cluster_a->next_window(); };
    return o;
  }
  CanaryPlan plan() const {
    CanaryPlan p;
    p.name = kModel;
    p.model = kModel;
    p.candidate_version = candidate;
    p.steps = {CanaryStep::set_weight(10), CanaryStep::pause(10min)};
    p.interval = 1min;
    p.min_samples = 100;
    p.guardrails = {{.metric = GuardrailMetric::kErrorRate,
                     .bound = GuardrailBound::kIncreaseOverStable,
                     .threshold = 0.01}};
    p.judgement = RuleJudgement::kPerWindow;
    return p;
  }
  // A serves cleanly; B gets every candidate error.
  void traffic() {
    ASSERT_TRUE(metrics_a->record_batch(stable, {.requests = 1000, .errors = 5}));
    ASSERT_TRUE(metrics_a->record_batch(candidate, {.requests = 1000, .errors = 5}));
    ASSERT_TRUE(metrics_b->record_batch(stable, {.requests = 1000, .errors = 5}));
    ASSERT_TRUE(metrics_b->record_batch(candidate, {.requests = 1000, .errors = 150}));
  }
};

TEST(ClusterCanaryControllerTest, the_leader_rolls_back_on_another_replicas_errors) {
  // Without the cluster source the leader sees its own replica only: the candidate passes.
  {
    Fleet fleet;
    CanaryController c(fleet.options(false));
    c.start(fleet.plan());
    fleet.traffic();
    fleet.f.clock.advance(1min + 1s);
    fleet.cluster_b->flush();
    EXPECT_EQ(c.evaluate(), RolloutAction::kHeld) << "0.5 % against 0.5 % on replica A";
  }
  Fleet fleet;
  CanaryController c(fleet.options(true));
  std::vector<RolloutAnalysisEvent> analyses;
  c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
  c.start(fleet.plan());
  fleet.traffic();
  fleet.f.clock.advance(1min + 1s);
  fleet.cluster_b->flush();
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack)
      << "7.75 % against 0.5 % over the fleet: B's errors count";
  ASSERT_EQ(analyses.size(), 1u);
  EXPECT_EQ(analyses[0].checks[0].candidate_samples, 2000u);
  EXPECT_NE(analyses[0].summary.find("merged from 2 replicas (a, b)"), std::string::npos)
      << analyses[0].summary;
  EXPECT_EQ(fleet.f.registry->get(kModel, fleet.candidate)->stage, Stage::kRejected);
  const AuditRecord last = fleet.f.registry->history(kModel).back();
  EXPECT_NE(last.reason.find("(a, b)"), std::string::npos)
      << "the rollback says whose figures it judged: " << last.reason;
}

TEST(ClusterCanaryControllerTest, the_leader_holds_while_a_replica_is_awaited) {
  Fleet fleet;
  CanaryController c(fleet.options(true));
  std::vector<RolloutAnalysisEvent> analyses;
  c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
  c.start(fleet.plan());
  fleet.f.clock.advance(1min + 1s);
  fleet.cluster_b->flush();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);  // window 0: nothing served yet
  fleet.traffic();
  fleet.f.clock.advance(1min);  // window 1 ended; B has not flushed it
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld) << "waits for B within the grace";
  EXPECT_NE(analyses.back().summary.find("waits for replicas b"), std::string::npos)
      << analyses.back().summary;
  fleet.cluster_b->flush();
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack) << "B's figures arrived";
}

}  // namespace cluster_canary_metrics_test
}  // namespace
}  // namespace switchyard
