#!/usr/bin/env python3
"""Times the seed's assignment (000_7df1ff0d7a994576.txt, ABTester.split_traffic):
hash(user_id) % 100 < split_ratio * 100, over the same keys the C++ router benchmark routes.
Prints nanoseconds per assignment (median of repetitions)."""
import statistics
import time


def split_traffic(user_id, split_ratio=0.5):
    hash_val = hash(user_id) % 100
    return 'model_a' if hash_val < split_ratio * 100 else 'model_b'


def main():
    keys = ["user-%d" % (i * 7919) for i in range(4096)]
    rounds = 200
    samples = []
    for _ in range(7):
        start = time.perf_counter_ns()
        for _ in range(rounds):
            for k in keys:
                split_traffic(k, 0.7)
        samples.append((time.perf_counter_ns() - start) / (rounds * len(keys)))
    print("%.1f" % statistics.median(samples))


if __name__ == "__main__":
    main()
