// SPDX-License-Identifier: Apache-2.0
// SnapshotCell (the table cell under TrafficRouter): a reader pins what it read until it reads
// again, and snapshots are freed by the publisher or an exiting reader, never inside read().
#include <switchyard/detail/snapshot_cell.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

namespace switchyard {
namespace {
namespace snapshot_cell_test {

// Records which thread destroyed it.
struct Tracked {
  Tracked(int v, std::atomic<int>* d, std::thread::id* on)
      : value(v), destroyed(d), destroyed_on(on) {}
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  int value;
  std::atomic<int>* destroyed;
  std::thread::id* destroyed_on;
  ~Tracked() {
    *destroyed_on = std::this_thread::get_id();
    destroyed->fetch_add(1);
  }
};

// A step counter two threads hand back and forth (atomic wait, no sleeps).
struct Steps {
  std::atomic<int> step{0};
  void go(int s) {
    step.store(s);
    step.notify_all();
  }
  void wait_for(int s) {
    for (int now = step.load(); now < s; now = step.load()) step.wait(now);
  }
};

TEST(SnapshotCellTest, a_reader_pins_its_snapshot_and_the_publisher_frees_it_after_the_reader_moved) {
  std::atomic<int> destroyed[3] = {0, 0, 0};
  std::thread::id destroyed_on[3];
  auto make = [&](int i) {
    return std::make_shared<const Tracked>(i, &destroyed[i], &destroyed_on[i]);
  };
  detail::SnapshotCell<Tracked> cell(make(0), detail::SnapshotCell<Tracked>::Release::kByPublisher);
  Steps steps;
  int first = -1, second = -1, freed_in_second_read = -1;
  std::thread reader([&] {
    first = cell.read()->value;
    steps.go(1);
    steps.wait_for(2);
    const int freed = destroyed[0].load();
    second = cell.read()->value;  // moves to snapshot 1; must not free snapshot 0 here
    freed_in_second_read = destroyed[0].load() - freed;
    steps.go(3);
    steps.wait_for(4);
  });
  steps.wait_for(1);
  cell.publish(make(1));  // the reader still announces snapshot 0
  EXPECT_EQ(destroyed[0].load(), 0) << "a snapshot a thread still reads was freed";
  steps.go(2);
  steps.wait_for(3);
  EXPECT_EQ(freed_in_second_read, 0) << "read() freed a snapshot";
  EXPECT_EQ(destroyed[0].load(), 0) << "nothing publishes or exits between the reads";
  cell.publish(make(2));  // the reader now announces snapshot 1: snapshot 0 goes, on this thread
  EXPECT_EQ(destroyed[0].load(), 1);
  EXPECT_EQ(destroyed_on[0], std::this_thread::get_id());
  EXPECT_EQ(destroyed[1].load(), 0) << "the reader still announces snapshot 1";
  steps.go(4);
  reader.join();  // its exit releases snapshot 1
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(destroyed[1].load(), 1);
  EXPECT_EQ(destroyed[2].load(), 0) << "the current snapshot stays";
  EXPECT_EQ(cell.read()->value, 2);
}

// The default mode: the reader that moves on last frees the replaced snapshot in its read().
TEST(SnapshotCellTest, by_default_the_last_reader_to_move_on_frees_the_replaced_snapshot) {
  std::atomic<int> destroyed[2] = {0, 0};
  std::thread::id destroyed_on[2];
  detail::SnapshotCell<Tracked> cell(
      std::make_shared<const Tracked>(0, &destroyed[0], &destroyed_on[0]));
  EXPECT_EQ(cell.read()->value, 0);
  cell.publish(std::make_shared<const Tracked>(1, &destroyed[1], &destroyed_on[1]));
  EXPECT_EQ(destroyed[0].load(), 0) << "this thread still announces snapshot 0";
  std::thread::id reader_id;
  std::thread reader([&] {
    reader_id = std::this_thread::get_id();
    EXPECT_EQ(cell.read()->value, 1);  // another thread's read does not free what this one reads
  });
  reader.join();
  EXPECT_EQ(destroyed[0].load(), 0);
  EXPECT_EQ(cell.read()->value, 1);  // the last reader of snapshot 0 moves on and frees it
  EXPECT_EQ(destroyed[0].load(), 1);
  EXPECT_EQ(destroyed_on[0], std::this_thread::get_id());
  EXPECT_EQ(destroyed[1].load(), 0);
}

TEST(SnapshotCellTest, republishing_the_current_snapshot_keeps_no_extra_copies) {
  std::atomic<int> destroyed{0};
  std::thread::id on;
  auto p = std::make_shared<const Tracked>(7, &destroyed, &on);
  detail::SnapshotCell<Tracked> cell(p);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(cell.read()->value, 7);
    cell.publish(p);
  }
  EXPECT_EQ(p.use_count(), 2) << "held here and as the current snapshot, nowhere else";
  cell.publish(nullptr);
  EXPECT_EQ(p.use_count(), 2) << "retired, but this thread still announces it";
  EXPECT_FALSE(cell.read());
  cell.publish(nullptr);
  EXPECT_EQ(p.use_count(), 1) << "this thread moved on, so the next publish let it go";
  EXPECT_EQ(destroyed.load(), 0);
}

}  // namespace snapshot_cell_test
}  // namespace
}  // namespace switchyard
