// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of traffic_router.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <set>

#include <switchyard/core/config.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/serving/traffic_router.hpp>

namespace switchyard {

SWITCHYARD_INLINE TrafficRouter::TrafficRouter(Options options)
    : source_(options.source), retired_stats_(options.retired_stats) {
  validate_model_name(options.model, NameRules{.require_domain_task = false});
  if (source_ == nullptr) {
    throw InvalidArgument("router for model '" + options.model + "': Options::source is null");
  }
  detail::MutexLock lk(mu_);
  model_name_ = &*interned_.insert(std::move(options.model)).first;
}

SWITCHYARD_INLINE std::string_view TrafficRouter::intern(std::string_view s) {
  auto it = interned_.find(s);
  if (it == interned_.end()) it = interned_.emplace(s).first;
  return *it;
}

SWITCHYARD_INLINE std::shared_ptr<VersionStats> TrafficRouter::stats_locked(
    std::int64_t version) {
  auto& entry = stats_[version];
  if (!entry.stats) entry.stats = std::make_shared<VersionStats>();
  return entry.stats;
}

SWITCHYARD_INLINE void TrafficRouter::retire_stats_locked(const RoutingTable* table) {
  std::vector<std::pair<std::uint64_t, std::int64_t>> retired;  // (retired_at, version)
  for (auto& [version, entry] : stats_) {
    if (table != nullptr && table->find_version(version) != nullptr) {
      entry.retired_at = 0;
    } else {
      if (entry.retired_at == 0) entry.retired_at = generation_;
      retired.emplace_back(entry.retired_at, version);
    }
  }
  if (retired.size() <= retired_stats_) return;
  // Oldest retirements go first. Tables still in flight keep their arms' statistics alive.
  std::sort(retired.begin(), retired.end());
  for (std::size_t i = 0; i + retired_stats_ < retired.size(); ++i) stats_.erase(retired[i].second);
}

SWITCHYARD_INLINE std::shared_ptr<VersionStats> TrafficRouter::stats(std::int64_t version) const {
  detail::MutexLock lk(mu_);
  auto it = stats_.find(version);
  return it == stats_.end() ? nullptr : it->second.stats;
}

SWITCHYARD_INLINE std::vector<std::int64_t> TrafficRouter::versions_with_stats() const {
  detail::MutexLock lk(mu_);
  std::vector<std::int64_t> out;
  for (const auto& [v, s] : stats_) out.push_back(v);
  return out;
}

SWITCHYARD_INLINE RoutingPolicy TrafficRouter::policy() const {
  auto t = cell_.load();
  return t ? t->policy() : RoutingPolicy{};
}

SWITCHYARD_INLINE void TrafficRouter::validate(const RoutingPolicy& p) const {
  const std::string where = "routing policy of model '" + std::string(model()) + "': ";
  if (p.variants.empty()) throw InvalidArgument(where + "no variants");
  std::set<std::string, std::less<>> names;
  std::set<std::int64_t> versions;
  for (const auto& v : p.variants) {
    try {
      validate_alias(v.name, "variant name");
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(where + e.what());
    }
    if (!names.insert(v.name).second) {
      throw InvalidArgument(where + "variant '" + v.name + "' appears twice");
    }
    if (v.version <= 0) {
      throw InvalidArgument(where + "variant '" + v.name + "' has version " +
                            std::to_string(v.version) + " (versions start at 1)");
    }
    if (!versions.insert(v.version).second) {
      throw InvalidArgument(where + "version " + std::to_string(v.version) +
                            " is used by two variants");
    }
  }
  std::vector<NamedWeight> weights;
  for (const auto& v : p.variants) weights.push_back({v.name, v.weight});
  const double sum = validate_weights(weights, where);
  if (p.weight_style == WeightStyle::kPercent && !p.normalize && std::fabs(sum - 100.0) > 1e-9) {
    throw InvalidArgument(where + "percent weights add up to " + std::to_string(sum) +
                          ", not 100 (set normalize to scale them)");
  }
  // Enumerations read from configuration may carry any value; name the field rather than route
  // with a default the caller did not ask for.
  if (static_cast<unsigned>(p.hash) > static_cast<unsigned>(HashScheme::kXxh3)) {
    throw InvalidArgument(where + "hash scheme " + std::to_string(static_cast<unsigned>(p.hash)) +
                          " is not a HashScheme");
  }
  if (static_cast<unsigned>(p.mode) > static_cast<unsigned>(RoutingMode::kRandom)) {
    throw InvalidArgument(where + "routing mode " + std::to_string(static_cast<unsigned>(p.mode)) +
                          " is not a RoutingMode");
  }
  if (static_cast<unsigned>(p.weight_style) > static_cast<unsigned>(WeightStyle::kPercent)) {
    throw InvalidArgument(where + "weight style " +
                          std::to_string(static_cast<unsigned>(p.weight_style)) +
                          " is not a WeightStyle");
  }
  if (!std::isfinite(p.coverage) || p.coverage < 0.0 || p.coverage > 1.0) {
    throw InvalidArgument(where + "coverage must be in [0, 1]");
  }
  auto known = [&](const std::string& n, const std::string& field) {
    if (!names.count(n)) {
      throw InvalidArgument(where + field + " names unknown variant '" + n + "'");
    }
  };
  for (const auto& [key, name] : p.overrides) known(name, "override for key '" + key + "'");
  for (const auto& s : p.segments) {
    if (s.attribute.empty()) throw InvalidArgument(where + "segment rule with empty attribute");
    known(s.variant, "segment rule on '" + s.attribute + "'");
  }
  if (!p.fallback_variant.empty()) known(p.fallback_variant, "fallback_variant");
  for (auto v : p.pinnable_versions) {
    if (v <= 0) throw InvalidArgument(where + "pinnable version " + std::to_string(v) + " < 1");
  }
}

SWITCHYARD_INLINE void TrafficRouter::publish_locked(RoutingPolicy policy) {
  validate(policy);
  auto current = cell_.load();
  auto loaded = [&](std::int64_t version) -> ModelPtr {
    if (current) {
      if (const RoutedVariant* v = current->find_version(version)) return v->model;
    }
    ModelPtr m = source_->load(model(), version);
    if (!m) {
      throw LoadError("model '" + std::string(model()) + "' version " + std::to_string(version) +
                      ": the source returned no model");
    }
    return m;
  };
  double sum = 0.0;
  for (const auto& v : policy.variants) sum += v.weight;
  // Load everything first; nothing is published (or interned) until every load succeeded.
  std::vector<std::pair<std::int64_t, ModelPtr>> models;
  for (const auto& v : policy.variants) models.emplace_back(v.version, loaded(v.version));
  std::vector<std::int64_t> pin_only;
  for (auto v : policy.pinnable_versions) {
    bool dup = false;
    for (const auto& [ver, m] : models) dup = dup || ver == v;
    if (dup) continue;
    models.emplace_back(v, loaded(v));
    pin_only.push_back(v);
  }
  std::vector<RoutedVariant> arms;
  for (std::size_t i = 0; i < policy.variants.size(); ++i) {
    const auto& spec = policy.variants[i];
    arms.push_back(RoutedVariant{intern(spec.name), spec.version, models[i].second,
                                 stats_locked(spec.version), spec.weight / sum, true});
  }
  for (std::size_t i = 0; i < pin_only.size(); ++i) {
    arms.push_back(RoutedVariant{intern("pinned"), pin_only[i],
                                 models[policy.variants.size() + i].second,
                                 stats_locked(pin_only[i]), 0.0, false});
  }
  auto table = std::make_shared<const RoutingTable>(model(), std::move(policy), std::move(arms),
                                                    ++generation_);
  retire_stats_locked(table.get());
  auto old = cell_.publish(std::move(table));
  (void)old;  // released here; in-flight requests keep their own references
}

SWITCHYARD_INLINE void TrafficRouter::set_policy(RoutingPolicy policy) {
  detail::MutexLock lk(mu_);
  publish_locked(std::move(policy));
}

SWITCHYARD_INLINE void TrafficRouter::set_weights(
    const std::map<std::string, double, std::less<>>& weights) {
  detail::MutexLock lk(mu_);
  auto current = cell_.load();
  if (!current) {
    throw InvalidArgument("model '" + std::string(model()) + "': no policy to change weights of");
  }
  RoutingPolicy p = current->policy();
  for (const auto& [name, w] : weights) {
    bool found = false;
    for (auto& v : p.variants) {
      if (v.name == name) {
        v.weight = w;
        found = true;
      }
    }
    if (!found) {
      throw InvalidArgument("model '" + std::string(model()) + "': no variant named '" + name + "'");
    }
  }
  publish_locked(std::move(p));
}

SWITCHYARD_INLINE void TrafficRouter::switch_blue_green(std::string_view active) {
  if (active != "blue" && active != "green") {
    throw InvalidArgument("blue/green slot must be \"blue\" or \"green\", not '" +
                          std::string(active) + "'");
  }
  detail::MutexLock lk(mu_);
  auto current = cell_.load();
  if (!current || !current->find_variant("blue") || !current->find_variant("green")) {
    throw InvalidArgument("model '" + std::string(model()) + "' has no blue/green policy");
  }
  RoutingPolicy p = current->policy();
  for (auto& v : p.variants) {
    if (v.name == "blue" || v.name == "green") v.weight = v.name == active ? 1.0 : 0.0;
  }
  p.fallback_variant = active == "blue" ? "green" : "blue";
  publish_locked(std::move(p));
}

SWITCHYARD_INLINE void TrafficRouter::clear() {
  detail::MutexLock lk(mu_);
  ++generation_;
  retire_stats_locked(nullptr);
  cell_.publish(nullptr);
}

}  // namespace switchyard
