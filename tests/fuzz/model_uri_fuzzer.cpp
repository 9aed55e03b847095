// SPDX-License-Identifier: Apache-2.0
// Fuzz target: model URIs, selectors, names, aliases and semantic versions, against a small fixed
// registry. Every answer is checked against an independent reading of the documented grammar.
//
// Input: one mode byte, then strings (see FuzzInput::string).
//   0 resolve(uri)          1 find(name, selector)       2 validate_model_name(name, rules)
//   3 validate_semver(text) 4 validate_alias(alias)      5 by_alias / by_semver / get
#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <switchyard/core/names.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

// ---- the registry every input is asked about -------------------------------------------------
//   fraud-detection: v1 "1.0.0" Production, v2 "1.1.0-rc.1+build.5" Staging, v3 Development,
//                    v4 Archived; aliases champion -> 1, challenger -> 2, next.try -> 3
//   ranking:         v1 Development (a name without <domain>-<task>)
struct World {
  ManualClock clock;
  InMemoryRegistryStore store;
  ArtifactStore artifacts{ScratchDir::path() / "artifacts"};
  ModelRegistry registry{{.store = &store,
                          .artifacts = &artifacts,
                          .clock = &clock,
                          .names = NameRules{.require_domain_task = false}}};

  World() {
    auto add = [&](const char* name, double seed, const char* semver) {
      Eigen::MatrixXd w(2, 1);
      w << seed, 1.0;
      LinearModel m(w, Eigen::VectorXd::Constant(1, seed));
      VersionMetadata meta;
      meta.semver = semver;
      return registry.register_version(name, {std::string(kLinearFormat), m.to_artifact()}, meta)
          ->version;
    };
    add("fraud-detection", 1, "1.0.0");
    add("fraud-detection", 2, "1.1.0-rc.1+build.5");
    add("fraud-detection", 3, "");
    add("fraud-detection", 4, "");
    add("ranking", 5, "0.1.0");
    registry.transition("fraud-detection", 1, Stage::kStaging);
    registry.transition("fraud-detection", 1, Stage::kProduction);
    registry.transition("fraud-detection", 2, Stage::kStaging);
    registry.transition("fraud-detection", 4, Stage::kArchived);
    registry.set_alias("fraud-detection", "champion", 1);
    registry.set_alias("fraud-detection", "challenger", 2);
    registry.set_alias("fraud-detection", "next.try", 3);
  }

  /// The version `selector`-free lookups should find, by the fixed contents above.
  static std::optional<std::int64_t> alias_target(std::string_view name, std::string_view alias) {
    if (name != "fraud-detection") return std::nullopt;
    if (alias == "champion") return 1;
    if (alias == "challenger") return 2;
    if (alias == "next.try") return 3;
    return std::nullopt;
  }
  static bool known(std::string_view name) {
    return name == "fraud-detection" || name == "ranking";
  }
  static std::int64_t latest(std::string_view name) { return name == "ranking" ? 1 : 4; }
  static std::optional<std::int64_t> in_stage(std::string_view name, Stage s) {
    if (name == "ranking")
      return s == Stage::kDevelopment ? std::optional<std::int64_t>(1) : std::nullopt;
    switch (s) {
      case Stage::kProduction:
        return 1;
      case Stage::kStaging:
        return 2;
      case Stage::kDevelopment:
        return 3;
      case Stage::kArchived:
        return 4;
      case Stage::kRejected:
        return std::nullopt;
    }
    return std::nullopt;
  }
};

World& world() {
  static World w;
  return w;
}

// ---- independent oracles, written from the documentation ----------------------------------------

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}
bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// "letters, digits, '-', '_', '.', starting with a letter or digit, no "..", at most max_length
// characters, and (by default) <domain>-<task>".
bool valid_name(std::string_view s, const NameRules& rules) {
  if (s.empty() || s.size() > rules.max_length || !alnum(s.front())) return false;
  for (char c : s) {
    if (!name_char(c)) return false;
  }
  if (s.find("..") != std::string_view::npos) return false;
  if (rules.require_domain_task) {
    bool split = false;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) split = split || s[i] == '-';
    if (!split) return false;
  }
  return true;
}

bool valid_alias(std::string_view s) {
  if (!valid_name(s, NameRules{.require_domain_task = false, .max_length = 64})) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return true;
  }
  return false;
}

bool digit(char c) { return c >= '0' && c <= '9'; }

// semver.org 2.0.0 BNF: <numeric identifier> has no leading zero, pre-release identifiers are
// numeric (no leading zero) or alphanumeric, build identifiers are any non-empty [0-9A-Za-z-]+.
bool valid_semver(std::string_view s) {
  std::size_t i = 0;
  auto numeric = [&]() {
    const std::size_t start = i;
    while (i < s.size() && digit(s[i])) ++i;
    return i > start && !(i - start > 1 && s[start] == '0');
  };
  for (int part = 0; part < 3; ++part) {
    if (!numeric()) return false;
    if (part < 2) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  auto identifiers = [&](bool pre) {
    for (;;) {
      const std::size_t start = i;
      bool all_digits = true;
      while (i < s.size() && (alnum(s[i]) || s[i] == '-')) {
        all_digits = all_digits && digit(s[i]);
        ++i;
      }
      if (i == start) return false;
      if (pre && all_digits && i - start > 1 && s[start] == '0') return false;
      if (i < s.size() && s[i] == '.') {
        ++i;
        continue;
      }
      return true;
    }
  };
  if (i < s.size() && s[i] == '-') {
    ++i;
    if (!identifiers(true)) return false;
  }
  if (i < s.size() && s[i] == '+') {
    ++i;
    if (!identifiers(false)) return false;
  }
  return i == s.size();
}

bool stage_name(std::string_view s, Stage& out) {
  if (auto st = stage_from_string(s)) {
    out = *st;
    return true;
  }
  return false;
}

// What resolve(uri) must answer: a version number, or the error kind.
struct Expected {
  enum Kind { kVersion, kInvalid, kNotFound } kind;
  std::int64_t version = 0;
};

Expected expect_resolve(std::string_view uri) {
  constexpr std::string_view kScheme = "models:/";
  if (uri.substr(0, kScheme.size()) != kScheme) return {Expected::kInvalid};
  std::string_view rest = uri.substr(kScheme.size());
  const auto at = rest.find('@');
  const auto slash = rest.find('/');
  const NameRules loose{.require_domain_task = false};
  if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash)) {
    const std::string_view name = rest.substr(0, at), alias = rest.substr(at + 1);
    if (alias.empty() || alias.find('/') != std::string_view::npos) return {Expected::kInvalid};
    if (!valid_name(name, loose)) return {Expected::kInvalid};
    if (!World::known(name)) return {Expected::kNotFound};
    auto v = World::alias_target(name, alias);
    return v ? Expected{Expected::kVersion, *v} : Expected{Expected::kNotFound};
  }
  if (slash == std::string_view::npos) return {Expected::kInvalid};
  const std::string_view name = rest.substr(0, slash), selector = rest.substr(slash + 1);
  if (selector.empty() || selector.find('/') != std::string_view::npos) return {Expected::kInvalid};
  if (!valid_name(name, loose)) return {Expected::kInvalid};
  Stage stage{};
  bool all_digits = !selector.empty() && selector.size() <= 18;
  for (char c : selector) all_digits = all_digits && digit(c);
  if (selector != "latest" && !all_digits && !stage_name(selector, stage)) {
    return {Expected::kInvalid};
  }
  if (!World::known(name)) return {Expected::kNotFound};
  if (selector == "latest") return {Expected::kVersion, World::latest(name)};
  if (all_digits) {
    std::int64_t v = 0;
    for (char c : selector) v = v * 10 + (c - '0');
    if (v >= 1 && v <= World::latest(name)) return {Expected::kVersion, v};
    return {Expected::kNotFound};
  }
  auto v = World::in_stage(name, stage);
  return v ? Expected{Expected::kVersion, *v} : Expected{Expected::kNotFound};
}

std::string show(std::string_view s) { return "'" + detail::printable(s) + "'"; }

void check_resolve(std::string_view uri) {
  const Expected want = expect_resolve(uri);
  Expected got{Expected::kVersion};
  std::string message;
  try {
    VersionRef v = world().registry.resolve(uri);
    SWITCHYARD_FUZZ_CHECK(v != nullptr, "resolve returned null for " + show(uri));
    SWITCHYARD_FUZZ_CHECK(uri.find(v->name) != std::string_view::npos,
                          "resolve(" + show(uri) + ") gave model " + v->name);
    got.version = v->version;
  } catch (const InvalidArgument& e) {
    got.kind = Expected::kInvalid;
    message = e.what();
  } catch (const NotFound& e) {
    got.kind = Expected::kNotFound;
    message = e.what();
  } catch (const Error& e) {
    expect_error<InvalidArgument, NotFound>(e, "ModelRegistry::resolve");
  }
  if (got.kind != want.kind || got.version != want.version) {
    fail("resolve(" + show(uri) + ") answered kind " + std::to_string(got.kind) + " version " +
         std::to_string(got.version) + " (" + message + "), the grammar says kind " +
         std::to_string(want.kind) + " version " + std::to_string(want.version));
  }
}

void check_find(std::string_view name, std::string_view selector) {
  auto& r = world().registry;
  try {
    VersionRef v = r.find(name, selector);
    SWITCHYARD_FUZZ_CHECK(v != nullptr && v->name == name,
                          "find(" + show(name) + ", " + show(selector) + ") gave another model");
    // Each selector form agrees with the lookup it stands for.
    if (selector == "latest") {
      SWITCHYARD_FUZZ_CHECK(v == r.latest(name), "find latest != latest()");
    } else if (selector.front() == '@') {
      SWITCHYARD_FUZZ_CHECK(v == r.by_alias(name, selector.substr(1)), "find @alias != by_alias");
    }
    if (auto target =
            World::alias_target(name, selector.front() == '@' ? selector.substr(1) : selector)) {
      Stage s{};
      if (!stage_name(selector, s) && !digit(selector.front())) {
        SWITCHYARD_FUZZ_CHECK(v->version == *target, "alias selector found the wrong version");
      }
    }
  } catch (const Error& e) {
    expect_error<InvalidArgument, NotFound>(e, "ModelRegistry::find");
    SWITCHYARD_FUZZ_CHECK(!selector.empty() || dynamic_cast<const InvalidArgument*>(&e),
                          "an empty selector must be InvalidArgument");
  }
}

void check_name(FuzzInput& in) {
  NameRules rules;
  rules.require_domain_task = in.boolean();
  rules.max_length = static_cast<std::size_t>(in.in_range(0, 200));
  const std::string name = in.string(256);
  bool accepted = true;
  try {
    validate_model_name(name, rules);
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, "validate_model_name");
    accepted = false;
  }
  SWITCHYARD_FUZZ_CHECK(accepted == valid_name(name, rules),
                        "validate_model_name(" + show(name) + ") disagrees with its documentation");
}

void check_semver(std::string_view text) {
  bool accepted = true;
  try {
    validate_semver(text);
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, "validate_semver");
    accepted = false;
  }
  const bool want = text.size() <= 64 && valid_semver(text);
  if (accepted != want) {
    fail("validate_semver(" + show(text) + ") " + (accepted ? "accepted" : "refused") +
         " what semver.org 2.0 " + (want ? "allows" : "forbids"));
  }
}

void check_alias(std::string_view alias) {
  bool accepted = true;
  try {
    validate_alias(alias);
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, "validate_alias");
    accepted = false;
  }
  SWITCHYARD_FUZZ_CHECK(accepted == valid_alias(alias),
                        "validate_alias(" + show(alias) + ") disagrees with its documentation");
}

void check_direct(FuzzInput& in) {
  auto& r = world().registry;
  const std::string name = in.string();
  const std::string key = in.string();
  const auto version = in.integral<std::int64_t>();
  try {
    auto v = r.by_alias(name, key);
    auto want = World::alias_target(name, key);
    SWITCHYARD_FUZZ_CHECK(want && *want == v->version, "by_alias found an alias that is not set");
  } catch (const Error& e) {
    expect_error<NotFound>(e, "ModelRegistry::by_alias");
    SWITCHYARD_FUZZ_CHECK(!World::alias_target(name, key), "by_alias missed a set alias");
  }
  try {
    auto v = r.by_semver(name, key);
    SWITCHYARD_FUZZ_CHECK(v->semver == key && v->name == name, "by_semver found another version");
  } catch (const Error& e) {
    expect_error<NotFound>(e, "ModelRegistry::by_semver");
  }
  try {
    auto v = r.get(name, version);
    SWITCHYARD_FUZZ_CHECK(v->version == version && v->name == name, "get found another version");
  } catch (const Error& e) {
    expect_error<NotFound>(e, "ModelRegistry::get");
    SWITCHYARD_FUZZ_CHECK(!World::known(name) || version < 1 || version > World::latest(name),
                          "get missed an existing version");
  }
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard::fuzz;
  FuzzInput in(data, size);
  switch (in.byte() % 6) {
    case 0:
      check_resolve(in.rest());
      break;
    case 1: {
      const std::string name = in.string();
      check_find(name, in.rest());
      break;
    }
    case 2:
      check_name(in);
      break;
    case 3:
      check_semver(in.rest());
      break;
    case 4:
      check_alias(in.rest());
      break;
    default:
      check_direct(in);
      break;
  }
  return 0;
}
