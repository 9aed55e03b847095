// SPDX-License-Identifier: Apache-2.0
// Fuzz target: reference-profile bytes through ReferenceProfile::from_bytes. Only LoadError and
// IntegrityError may come out; whatever loads must round-trip, bin any value into one of its
// slots and evaluate a window without a NaN.
//
// Input: one mode byte, then the profile.
//   bit 0 set: the rest is a profile body and the target appends its SHA-256 trailer, so the
//              fuzzer explores the structure behind the checksum;
//   bit 0 clear: the rest is the profile as stored (trailer included).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/drift/drift_evaluation.hpp>
#include <switchyard/drift/reference_profile.hpp>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

void check_profile(const ReferenceProfile& p) {
  const std::string again = p.to_bytes();
  SWITCHYARD_FUZZ_CHECK(ReferenceProfile::from_bytes(again) == p, "a profile does not round-trip");
  const double probes[] = {0.0, -1.0, 1.0, 1e300, -1e300, 0.5, 42.0};
  CurrentWindow w = CurrentWindow::for_profile(p);
  for (std::size_t i = 0; i < p.features.size(); ++i) {
    const FeatureProfile& f = p.features[i];
    for (double x : probes) {
      SWITCHYARD_FUZZ_CHECK(f.slot_of(x) < f.slots(), "slot_of out of range");
      w.features[i].add(f, x);
    }
    if (!f.sample.empty()) w.features[i].add(f, f.sample.front());
    w.features[i].add(f, std::numeric_limits<double>::quiet_NaN());
  }
  if (p.features.size() > 64) return;  // evaluation cost grows with the features; the rest is checked
  const DriftReport r = evaluate_drift(p, w, {.all_statistics = true});
  for (const FeatureDrift& d : r.features) {
    SWITCHYARD_FUZZ_CHECK(!std::isnan(d.score), "a NaN score for " + d.name);
    for (const auto& s : d.statistics) {
      SWITCHYARD_FUZZ_CHECK(!std::isnan(s.value) && !std::isnan(s.statistic),
                            "a NaN statistic for " + d.name);
    }
  }
  SWITCHYARD_FUZZ_CHECK(!std::isnan(r.drift_share), "a NaN drift share");
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  using namespace switchyard::fuzz;
  FuzzInput in(data, size);
  const std::uint8_t mode = in.byte();
  std::string bytes(in.rest());
  if (mode & 1) bytes += detail::sha256_raw(bytes);
  try {
    const ReferenceProfile p = ReferenceProfile::from_bytes(bytes);
    check_profile(p);
  } catch (const Error& e) {
    expect_error<LoadError, IntegrityError>(e, "ReferenceProfile::from_bytes");
  }
  return 0;
}
