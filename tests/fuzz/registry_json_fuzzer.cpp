// SPDX-License-Identifier: Apache-2.0
// Fuzz target: registry JSON. from_json<T> for every serialisable type must throw only
// InvalidArgument and round-trip what it accepts; ModelRegistry::import_json must happen whole or
// not at all, and an imported registry must answer every read and export/import to itself.
//
// Input: one mode byte, then the JSON text.
//   0 TensorSpec  1 Signature  2 ArtifactRef  3 ModelVersion  4 AuditRecord  5 AliasRecord
//   6 StoreState  7 version metadata (the SQLite store's column)  8..255 ModelRegistry::import_json
#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/serialization.hpp>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

template <class T>
bool same(const T& a, const T& b) {
  return a == b;
}
// StoreState defines no operator==: its parts do.
template <>
bool same(const StoreState& a, const StoreState& b) {
  return a.versions == b.versions && a.aliases == b.aliases && a.last_sequence == b.last_sequence;
}

template <class T>
void round_trip(std::string_view json, const char* type) {
  T value;
  try {
    value = from_json<T>(json);
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, type);
    return;
  }
  for (JsonStyle style : {JsonStyle::kPretty, JsonStyle::kCompact}) {
    std::string text;
    try {
      text = to_json(value, style);
    } catch (const Error& e) {
      fail(std::string(type) + ": to_json refused a value from_json accepted: " + e.what());
    }
    T back;
    try {
      back = from_json<T>(text);
    } catch (const Error& e) {
      fail(std::string(type) + ": from_json refused what to_json wrote: " + e.what() + "\n" + text);
    }
    SWITCHYARD_FUZZ_CHECK(same(back, value), std::string(type) + " does not round-trip:\n" + text);
  }
}

void metadata_round_trip(std::string_view json) {
  ModelVersion v;
  try {
    detail::version_metadata_from_json(json, v);
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, "version_metadata_from_json");
    return;
  }
  ModelVersion back;
  detail::version_metadata_from_json(detail::version_metadata_to_json(v), back);
  SWITCHYARD_FUZZ_CHECK(back == v, "version metadata does not round-trip");
}

// The artifacts an import may reference: two real models, stored once per process.
struct Artifacts {
  ArtifactStore store{ScratchDir::path() / "artifacts"};
  Artifacts() {
    for (double seed : {1.0, 2.0}) {
      Eigen::MatrixXd w(2, 1);
      w << seed, -seed;
      store.put(LinearModel(w, Eigen::VectorXd::Constant(1, 0.5)).to_artifact(),
                std::string(kLinearFormat));
    }
  }
};

ArtifactStore& artifacts() {
  static Artifacts a;
  return a.store;
}

struct FreshRegistry {
  ManualClock clock;
  InMemoryRegistryStore store;
  ModelRegistry registry{{.store = &store, .artifacts = &artifacts(), .clock = &clock}};
};

// Every read of an imported registry answers (a value or a documented error), never crashes.
void read_everything(ModelRegistry& r) {
  for (const std::string& name : r.models()) {
    auto all = r.versions(name);
    SWITCHYARD_FUZZ_CHECK(!all.empty(), "model " + name + " is listed with no versions");
    SWITCHYARD_FUZZ_CHECK(r.latest(name) == all.back(), "latest() is not the highest version");
    for (const auto& v : all) {
      SWITCHYARD_FUZZ_CHECK(r.get(name, v->version) == v, "get() disagrees with versions()");
      try {
        (void)r.read_artifact(name, v->version);  // verified, as import checked it
      } catch (const Error& e) {
        // A file artifact's reference is not checked beyond the file's presence at import.
        expect_error<InvalidArgument, IntegrityError>(e, "read_artifact of an imported version");
      }
      try {
        (void)r.resolve("models:/" + name + "/" + std::to_string(v->version));
      } catch (const Error& e) {
        expect_error<InvalidArgument>(e, "resolve of an imported version");
      }
    }
    for (const auto& [alias, version] : r.aliases(name)) {
      try {
        SWITCHYARD_FUZZ_CHECK(r.by_alias(name, alias)->version == version, "alias moved");
      } catch (const Error& e) {
        expect_error<NotFound>(e, "by_alias of an imported alias");
      }
    }
    (void)r.history(name);
  }
}

void import(std::string_view json) {
  FreshRegistry a;
  try {
    a.registry.import_json(json);
  } catch (const Error& e) {
    expect_error<InvalidArgument, NotFound, AlreadyExists, IntegrityError>(
        e, "ModelRegistry::import_json");
    // Whole or not at all.
    SWITCHYARD_FUZZ_CHECK(a.registry.models().empty(), "a failed import left models behind");
    SWITCHYARD_FUZZ_CHECK(a.store.load().versions.empty() && a.store.audit({}).empty(),
                          "a failed import left rows in the store");
    return;
  }
  read_everything(a.registry);
  const std::string exported = a.registry.export_json();
  FreshRegistry b;
  try {
    b.registry.import_json(exported);
  } catch (const Error& e) {
    fail(std::string("an export of an imported registry does not import: ") + e.what());
  }
  SWITCHYARD_FUZZ_CHECK(b.registry.export_json() == exported, "export/import is not a fixed point");
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  using namespace switchyard::fuzz;
  FuzzInput in(data, size);
  const std::uint8_t mode = in.byte();
  const std::string_view json = in.rest();
  switch (mode) {
    case 0:
      round_trip<TensorSpec>(json, "TensorSpec");
      break;
    case 1:
      round_trip<Signature>(json, "Signature");
      break;
    case 2:
      round_trip<ArtifactRef>(json, "ArtifactRef");
      break;
    case 3:
      round_trip<ModelVersion>(json, "ModelVersion");
      break;
    case 4:
      round_trip<AuditRecord>(json, "AuditRecord");
      break;
    case 5:
      round_trip<AliasRecord>(json, "AliasRecord");
      break;
    case 6:
      round_trip<StoreState>(json, "StoreState");
      break;
    case 7:
      metadata_round_trip(json);
      break;
    default:
      import(json);
      break;
  }
  return 0;
}
