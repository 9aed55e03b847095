// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of serialization.hpp: one writer (cereal) and two readers (RapidJSON DOM,
// cereal).
// Thread-safety: as documented on the declarations in the matching header.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <cereal/archives/json.hpp>

#include <switchyard/core/error.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard::detail::json_io {

// cereal reads and writes through RapidJSON; a packaged cereal either bundles it under its own
// namespace or uses the system's. The fast reader below uses whichever cereal uses.
#if defined(CEREAL_RAPIDJSON_NAMESPACE)
namespace dom = CEREAL_RAPIDJSON_NAMESPACE;
#else
namespace dom = RAPIDJSON_NAMESPACE;
#endif

/// Thrown inside this file only; the public entry points turn it into InvalidArgument.
struct FieldError {
  std::string path;
  std::string reason;
};

/// The dotted path of the value being read or written, e.g. `signature.inputs[0].dtype`.
class Path {
 public:
  class Scope {
   public:
    Scope(Path& p, std::size_t keep) noexcept : path_(p), keep_(keep) {}
    ~Scope() { path_.text_.resize(keep_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Path& path_;
    std::size_t keep_;
  };

  Scope member(std::string_view name) {
    const std::size_t keep = text_.size();
    if (!text_.empty()) text_ += '.';
    text_ += name;
    return Scope(*this, keep);
  }
  Scope index(std::size_t i) {
    const std::size_t keep = text_.size();
    text_ += '[' + std::to_string(i) + ']';
    return Scope(*this, keep);
  }
  [[noreturn]] void fail(std::string reason) const { throw FieldError{text_, std::move(reason)}; }

 private:
  std::string text_;
};

inline bool holds_nul(std::string_view s) noexcept {
  return s.find('\0') != std::string_view::npos;
}

constexpr DType kAllDTypes[] = {DType::kBool, DType::kInt32, DType::kInt64, DType::kFloat32,
                                DType::kFloat64};

// ---------------------------------------------------------------------------------------------
// Writing. One pass with no archive validates (so nothing is half-written when a value is
// refused: cereal's archive cannot be abandoned mid-node), a second pass writes.

class Writer {
 public:
  explicit Writer(cereal::JSONOutputArchive* archive) : ar_(archive) {}

  void field(const char* name, const std::string& v) {
    auto scope = path_.member(name);
    check(v);
    if (ar_) (*ar_)(cereal::make_nvp(name, v));
  }
  void field(const char* name, std::int64_t v) {
    if (ar_) (*ar_)(cereal::make_nvp(name, v));
  }
  void field(const char* name, std::uint64_t v) {
    if (ar_) (*ar_)(cereal::make_nvp(name, v));
  }
  void field(const char* name, bool v) {
    if (ar_) (*ar_)(cereal::make_nvp(name, v));
  }
  /// A member readers may find missing (added to a layout after it was first written).
  template <class T>
  void optional_field(const char* name, const T& v) {
    field(name, v);
  }
  void field(const char* name, const std::optional<std::string>& v) {
    if (v) return field(name, *v);
    if (ar_) (*ar_)(cereal::make_nvp(name, nullptr));
  }
  template <class T>
  void field(const char* name, const std::vector<T>& v) {
    auto scope = path_.member(name);
    open(name);
    if (ar_) ar_->makeArray();
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto at = path_.index(i);
      element(v[i]);
    }
    close();
  }
  template <class V>
  void field(const char* name, const std::map<std::string, V>& m) {
    auto scope = path_.member(name);
    open(name);
    for (const auto& [key, value] : m) {
      auto at = path_.member(key);
      if (holds_nul(key)) path_.fail("is a key holding a NUL character");
      keyed(key.c_str(), value);
    }
    close();
  }
  template <class T>
  void field(const char* name, const T& object) {
    auto scope = path_.member(name);
    open(name);
    fields(*this, object);
    close();
  }

 private:
  void open(const char* name) {
    if (!ar_) return;
    ar_->setNextName(name);
    ar_->startNode();
  }
  void close() {
    if (ar_) ar_->finishNode();
  }
  void check(const std::string& v) const {
    if (holds_nul(v)) path_.fail("holds a NUL character, which JSON through cereal cannot carry");
  }
  void check(double v) const {
    if (std::isnan(v)) path_.fail("is NaN");
    if (std::isinf(v)) path_.fail("is infinite");
  }
  void element(const std::string& v) {
    check(v);
    if (ar_) (*ar_)(v);
  }
  void element(std::int64_t v) {
    if (ar_) (*ar_)(v);
  }
  template <class T>
  void element(const T& object) {
    if (ar_) ar_->startNode();
    fields(*this, object);
    close();
  }
  void keyed(const char* key, double v) {
    check(v);
    if (ar_) (*ar_)(cereal::make_nvp(key, v));
  }
  void keyed(const char* key, const std::string& v) {
    check(v);
    if (ar_) (*ar_)(cereal::make_nvp(key, v));
  }
  template <class V>
  void keyed(const char* key, const std::map<std::string, V>& m) {
    open(key);
    for (const auto& [k, value] : m) {
      auto at = path_.member(k);
      if (holds_nul(k)) path_.fail("is a key holding a NUL character");
      keyed(k.c_str(), value);
    }
    close();
  }

  cereal::JSONOutputArchive* ar_;
  Path path_;
};

/// What a reader or writer threw, as the InvalidArgument the public functions promise.
[[noreturn]] inline void rethrow_as_invalid_argument(const char* type, const FieldError& e) {
  if (e.path.empty()) throw InvalidArgument(std::string(type) + " JSON: the value " + e.reason);
  throw InvalidArgument(std::string(type) + " JSON: field '" + e.path + "' " + e.reason);
}

template <class T, class Body>
std::string write_document(const char* type, const T& value, JsonStyle style, Body&& body) {
  try {
    Writer check(nullptr);
    body(check, value);
    std::ostringstream os;
    {
      cereal::JSONOutputArchive ar(os, style == JsonStyle::kPretty
                                           ? cereal::JSONOutputArchive::Options::Default()
                                           : cereal::JSONOutputArchive::Options::NoIndent());
      Writer w(&ar);
      body(w, value);
    }
    std::string text = std::move(os).str();
    if (style == JsonStyle::kCompact) {
      // The writer escapes control characters inside strings, so every raw newline is layout.
      std::erase(text, '\n');
    }
    return text;
  } catch (const FieldError& e) {
    rethrow_as_invalid_argument(type, e);
  }
}

template <class T>
void save_into(const char* type, cereal::JSONOutputArchive& ar, const T& value) {
  try {
    Writer check(nullptr);
    fields(check, value);
    Writer w(&ar);
    fields(w, value);
  } catch (const FieldError& e) {
    rethrow_as_invalid_argument(type, e);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading. Both readers offer field(name, T&) for the same T and fail(name, reason); the layout
// itself is the fields() overloads below, shared with the writer.

template <class T>
inline constexpr bool kIsRecord = std::is_class_v<T> && !std::is_same_v<T, std::string>;

/// Reads a RapidJSON document held in memory: the fast path (the store's load of thousands of
/// rows) and from_json(). Strict about types; checks every string for NUL.
class DomReader {
 public:
  DomReader(const dom::Value& value, Path& path) noexcept : v_(value), path_(path) {}

  template <class T>
  void field(const char* name, T& out) {
    auto scope = path_.member(name);
    const auto it = v_.FindMember(name);
    if (it == v_.MemberEnd()) path_.fail("is missing");
    DomReader(it->value, path_).value(out);
  }
  /// Like field(), but a missing member leaves `out` empty.
  template <class T>
  void optional_field(const char* name, T& out) {
    if (v_.FindMember(name) == v_.MemberEnd()) {
      out = T{};
      return;
    }
    field(name, out);
  }

  void value(bool& out) {
    if (!v_.IsBool()) path_.fail("must be true or false");
    out = v_.GetBool();
  }
  void value(std::string& out) {
    if (!v_.IsString()) path_.fail("must be a string");
    out.assign(v_.GetString(), v_.GetStringLength());
    if (holds_nul(out)) path_.fail("holds a NUL character");
  }
  void value(std::int64_t& out) {
    if (!v_.IsInt64()) path_.fail("must be an integer in the signed 64-bit range");
    out = v_.GetInt64();
  }
  void value(std::uint64_t& out) {
    if (!v_.IsUint64()) path_.fail("must be a non-negative integer in the 64-bit range");
    out = v_.GetUint64();
  }
  void value(double& out) {
    if (!v_.IsNumber()) path_.fail("must be a number");
    out = v_.GetDouble();
  }
  void value(std::optional<std::string>& out) {
    if (v_.IsNull()) {
      out.reset();
      return;
    }
    value(out.emplace());
  }
  template <class T>
  void value(std::vector<T>& out) {
    if (!v_.IsArray()) path_.fail("must be an array");
    out.clear();
    out.resize(v_.Size());
    for (dom::SizeType i = 0; i < v_.Size(); ++i) {
      auto at = path_.index(i);
      DomReader(v_[i], path_).value(out[i]);
    }
  }
  template <class V>
  void value(std::map<std::string, V>& out) {
    if (!v_.IsObject()) path_.fail("must be an object");
    out.clear();
    for (auto it = v_.MemberBegin(); it != v_.MemberEnd(); ++it) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      auto at = path_.member(key);
      if (holds_nul(key)) path_.fail("is a key holding a NUL character");
      V item{};
      DomReader(it->value, path_).value(item);
      // Written from a std::map, keys arrive sorted: the hint makes each insert O(1).
      const auto size = out.size();
      out.emplace_hint(out.end(), std::move(key), std::move(item));
      if (out.size() == size) path_.fail("is a duplicate key");
    }
  }
  template <class T>
  requires kIsRecord<T>
  void value(T& out) {
    if (!v_.IsObject()) path_.fail("must be an object");
    fields(*this, out);
  }

  void require_object() const {
    if (!v_.IsObject()) path_.fail("must be an object");
  }

  /// Refuses the value of member `name` of the current object.
  [[noreturn]] void fail(const char* name, std::string reason) {
    auto scope = path_.member(name);
    path_.fail(std::move(reason));
  }

 private:
  const dom::Value& v_;
  Path& path_;
};

/// Reads through cereal's own JSONInputArchive, for values nested in a host's cereal archive.
/// cereal reports type mismatches as RapidJSON assertions; they are turned into the same
/// messages the DOM reader gives.
class CerealReader {
 public:
  explicit CerealReader(cereal::JSONInputArchive& archive) noexcept : ar_(archive) {}

  template <class T>
  void field(const char* name, T& out) {
    auto scope = path_.member(name);
    if constexpr (kIsComposite<T>) {
      try {
        ar_.setNextName(name);
        ar_.startNode();
      } catch (const cereal::Exception& e) {
        path_.fail(missing(e) ? "is missing" : expected<T>());
      }
      node(out);
      ar_.finishNode();
    } else {
      scalar(cereal::make_nvp(name, out), out);
    }
  }
  /// Like field(), but a missing member leaves `out` empty. (A failed search leaves cereal's
  /// archive where it was, as field() relies on too.)
  template <class T>
  void optional_field(const char* name, T& out) {
    auto scope = path_.member(name);
    if constexpr (std::is_same_v<T, std::string>) {
      try {
        ar_(cereal::make_nvp(name, out));
      } catch (const cereal::Exception& e) {
        if (!missing(e)) path_.fail(mismatch(e));
        out.clear();
      }
    } else {
      try {
        ar_.setNextName(name);
        ar_.startNode();
      } catch (const cereal::Exception& e) {
        if (!missing(e)) path_.fail(expected<T>());
        out = T{};
        return;
      }
      node(out);
      ar_.finishNode();
    }
  }

  /// Refuses the value of member `name` of the current object.
  [[noreturn]] void fail(const char* name, std::string reason) {
    auto scope = path_.member(name);
    path_.fail(std::move(reason));
  }

 private:
  template <class T>
  static constexpr bool kIsComposite =
      kIsRecord<T> && !std::is_same_v<T, std::optional<std::string>>;

  template <class T>
  static const char* expected() {
    if constexpr (requires(T t) { t.resize(0); }) return "must be an array";
    return "must be an object";
  }
  static bool missing(const cereal::Exception& e) {
    return std::strstr(e.what(), "not found") != nullptr;
  }
  // RapidJSON's assertion text names the getter's precondition; map it to a type.
  static std::string mismatch(const cereal::Exception& e) {
    const char* what = e.what();
    if (std::strstr(what, "IsString")) return "must be a string";
    if (std::strstr(what, "Uint64")) return "must be a non-negative integer in the 64-bit range";
    if (std::strstr(what, "Int64")) return "must be an integer in the signed 64-bit range";
    if (std::strstr(what, "IsNumber")) return "must be a number";
    if (std::strstr(what, "IsNull")) return "must be null or a string";
    if (std::strstr(what, "IsBool")) return "must be true or false";
    return std::string("cannot be read: ") + what;
  }

  template <class Source, class T>
  void scalar(Source&& source, T& out) {
    try {
      if constexpr (std::is_same_v<T, std::optional<std::string>>) {
        optional_string(std::forward<Source>(source), out);
      } else {
        ar_(std::forward<Source>(source));
      }
    } catch (const cereal::Exception& e) {
      path_.fail(missing(e) ? "is missing" : mismatch(e));
    }
    if constexpr (std::is_same_v<T, double>) {
      if (std::isnan(out)) path_.fail("is NaN");
      if (std::isinf(out)) path_.fail("is infinite");
    }
  }

  // cereal cannot ask a value's type, so try null first: a failed null load leaves the archive
  // positioned on the same member.
  template <class Source>
  void optional_string(Source&& source, std::optional<std::string>& out) {
    std::nullptr_t null{};
    try {
      if constexpr (requires { source.name; }) {
        ar_(cereal::make_nvp(source.name, null));
      } else {
        ar_(null);
      }
      out.reset();
      return;
    } catch (const cereal::RapidJSONException&) {
    }
    if constexpr (requires { source.name; }) {
      ar_(cereal::make_nvp(source.name, out.emplace()));
    } else {
      ar_(out.emplace());
    }
  }

  template <class T>
  void element(T& out) {
    if constexpr (kIsComposite<T>) {
      try {
        ar_.startNode();
      } catch (const cereal::Exception&) {
        path_.fail(expected<T>());
      }
      node(out);
      ar_.finishNode();
    } else {
      scalar(out, out);
    }
  }

  template <class T>
  void node(std::vector<T>& out) {
    cereal::size_type n = 0;
    try {
      ar_.loadSize(n);
    } catch (const cereal::Exception&) {
      path_.fail("must be an array");
    }
    out.clear();
    out.resize(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto at = path_.index(i);
      element(out[i]);
    }
  }
  template <class V>
  void node(std::map<std::string, V>& out) {
    out.clear();
    while (const char* name = ar_.getNodeName()) {
      std::string key(name);
      auto at = path_.member(key);
      V item{};
      element(item);
      if (!out.emplace(std::move(key), std::move(item)).second) path_.fail("is a duplicate key");
    }
    if (out.empty()) {
      // An object has no unnamed members; a non-empty array reads as no members at all.
      cereal::size_type n = 0;
      bool is_array = true;
      try {
        ar_.loadSize(n);
      } catch (const cereal::Exception&) {
        is_array = false;
      }
      if (is_array && n > 0) path_.fail("must be an object");
    }
  }
  template <class T>
  requires(!requires(T t) { t.resize(0); }) void node(T& out) { fields(*this, out); }

  cereal::JSONInputArchive& ar_;
  Path path_;
};

// ---------------------------------------------------------------------------------------------
// The layout, described once for the writer and both readers: `Io` is the Writer (with const
// values) or a reader (with mutable ones).

template <class T, class U>
concept SameAs = std::same_as<std::remove_const_t<T>, U>;

// Enumerations travel by name, times as integer Unix nanoseconds.
inline void dtype_field(Writer& w, const char* name, DType t) {
  w.field(name, std::string(to_string(t)));
}
template <class R>
void dtype_field(R& r, const char* name, DType& out) {
  std::string text;
  r.field(name, text);
  for (DType t : kAllDTypes) {
    if (to_string(t) == text) {
      out = t;
      return;
    }
  }
  r.fail(name,
         "has unknown dtype '" + text + "' (expected bool, int32, int64, float32 or float64)");
}

inline void stage_field(Writer& w, const char* name, Stage s) {
  w.field(name, std::string(to_string(s)));
}
inline void stage_field(Writer& w, const char* name, const std::optional<Stage>& s) {
  w.field(name, s ? std::optional<std::string>(to_string(*s)) : std::nullopt);
}
template <class R>
void stage_field(R& r, const char* name, std::optional<Stage>& out) {
  std::optional<std::string> text;
  r.field(name, text);
  out.reset();
  if (!text) return;
  out = stage_from_string(*text);
  if (!out) {
    r.fail(name, "has unknown stage '" + *text +
                     "' (expected Development, Staging, Production, Archived or Rejected)");
  }
}
template <class R>
void stage_field(R& r, const char* name, Stage& out) {
  std::string text;
  r.field(name, text);
  const std::optional<Stage> s = stage_from_string(text);
  if (!s) {
    r.fail(name, "has unknown stage '" + text +
                     "' (expected Development, Staging, Production, Archived or Rejected)");
  }
  out = *s;
}

inline void time_field(Writer& w, const char* name, TimePoint t) {
  w.field(name, to_unix_nanos(t));
}
template <class R>
void time_field(R& r, const char* name, TimePoint& out) {
  std::int64_t ns = 0;
  r.field(name, ns);
  out = from_unix_nanos(ns);
}

template <class Io, SameAs<TensorSpec> T>
void fields(Io& io, T& t) {
  io.field("name", t.name);
  dtype_field(io, "dtype", t.dtype);
  io.field("shape", t.shape);
}

template <class Io, SameAs<Signature> T>
void fields(Io& io, T& s) {
  io.field("inputs", s.inputs);
  io.field("outputs", s.outputs);
  io.field("class_names", s.class_names);
}

template <class Io, SameAs<ArtifactRef> T>
void fields(Io& io, T& a) {
  io.field("format", a.format);
  io.field("sha256", a.sha256);
  io.field("size", a.size);
  io.field("uri", a.uri);
}

/// The fields the SQLite store keeps in its metadata column.
template <class Io, SameAs<ModelVersion> T>
void metadata_fields(Io& io, T& v) {
  io.field("run_id", v.run_id);
  io.field("dataset_version", v.dataset_version);
  io.field("metrics", v.metrics);
  io.field("group_metrics", v.group_metrics);
  io.field("signature", v.signature);
  io.field("dependencies", v.dependencies);
  io.field("owner", v.owner);
  io.field("changelog", v.changelog);
  io.field("description", v.description);
  io.field("tags", v.tags);
}

template <class Io, SameAs<ModelVersion> T>
void fields(Io& io, T& v) {
  io.field("name", v.name);
  io.field("version", v.version);
  io.field("semver", v.semver);
  stage_field(io, "stage", v.stage);
  metadata_fields(io, v);
  time_field(io, "created_at_ns", v.created_at);
  time_field(io, "stage_changed_at_ns", v.stage_changed_at);
  io.field("artifact", v.artifact);
}

template <class Io, SameAs<AuditRecord> T>
void fields(Io& io, T& a) {
  io.field("sequence", a.sequence);
  time_field(io, "at_ns", a.at);
  io.field("actor", a.actor);
  io.field("model", a.model);
  io.field("version", a.version);
  io.field("action", a.action);
  stage_field(io, "from_stage", a.from_stage);
  stage_field(io, "to_stage", a.to_stage);
  io.field("alias", a.alias);
  io.field("reason", a.reason);
  io.optional_field("evidence", a.evidence);
}

template <class Io, SameAs<PromotionEvidence> T>
void fields(Io& io, T& e) {
  io.field("kind", e.kind);
  io.field("passed", e.passed);
  io.field("summary", e.summary);
  io.field("detail_json", e.detail_json);
  io.optional_field("actor", e.actor);
}

inline void status_field(Writer& w, const char* name, RolloutStatus s) {
  w.field(name, std::string(to_string(s)));
}
template <class R>
void status_field(R& r, const char* name, RolloutStatus& out) {
  std::string text;
  r.field(name, text);
  const std::optional<RolloutStatus> s = rollout_status_from_string(text);
  if (!s) {
    r.fail(name, "has unknown rollout status '" + text +
                     "' (expected running, paused, promoted, rolled_back, aborted or rolling_back)");
  }
  out = *s;
}

template <class Io, SameAs<RolloutDecision> T>
void fields(Io& io, T& d) {
  time_field(io, "at_ns", d.at);
  io.field("step", d.step);
  io.field("action", d.action);
  io.field("actor", d.actor);
  io.field("reason", d.reason);
}

template <class Io, SameAs<RolloutRecord> T>
void fields(Io& io, T& r) {
  io.field("deployment", r.deployment);
  io.field("model", r.model);
  io.field("stable_version", r.stable_version);
  io.field("candidate_version", r.candidate_version);
  io.field("plan_json", r.plan_json);
  status_field(io, "status", r.status);
  io.field("step", r.step);
  time_field(io, "started_at_ns", r.started_at);
  time_field(io, "step_started_at_ns", r.step_started_at);
  time_field(io, "updated_at_ns", r.updated_at);
  io.field("weights", r.weights);
  io.field("failures", r.failures);
  io.field("consecutive_failures", r.consecutive_failures);
  io.field("revision", r.revision);
  io.field("decisions", r.decisions);
  io.optional_field("step_state", r.step_state);
}

template <class Io, SameAs<AliasRecord> T>
void fields(Io& io, T& a) {
  io.field("model", a.model);
  io.field("alias", a.alias);
  io.field("version", a.version);
}

template <class Io, SameAs<ExportedArtifact> T>
void fields(Io& io, T& a) {
  io.field("sha256", a.sha256);
  io.field("base64", a.base64);
}

template <class Io, SameAs<StoreState> T>
void fields(Io& io, T& s) {
  io.field("versions", s.versions);
  io.field("aliases", s.aliases);
  io.field("last_sequence", s.last_sequence);
}

/// Why RapidJSON refused a document, in words.
inline const char* parse_error_text(dom::ParseErrorCode code) noexcept {
  switch (code) {
    case dom::kParseErrorDocumentEmpty:
      return "the document is empty";
    case dom::kParseErrorDocumentRootNotSingular:
      return "text follows the document";
    case dom::kParseErrorValueInvalid:
      return "invalid value";
    case dom::kParseErrorObjectMissName:
      return "an object member has no name";
    case dom::kParseErrorObjectMissColon:
      return "a colon is missing after a member name";
    case dom::kParseErrorObjectMissCommaOrCurlyBracket:
      return "a ',' or '}' is missing";
    case dom::kParseErrorArrayMissCommaOrSquareBracket:
      return "a ',' or ']' is missing";
    case dom::kParseErrorStringUnicodeEscapeInvalidHex:
      return "invalid \\u escape";
    case dom::kParseErrorStringUnicodeSurrogateInvalid:
      return "invalid UTF-16 surrogate";
    case dom::kParseErrorStringEscapeInvalid:
      return "invalid escape";
    case dom::kParseErrorStringMissQuotationMark:
      return "unterminated string";
    case dom::kParseErrorStringInvalidEncoding:
      return "invalid encoding";
    case dom::kParseErrorNumberTooBig:
      return "number too large for a double";
    case dom::kParseErrorNumberMissFraction:
      return "a number has no digits after '.'";
    case dom::kParseErrorNumberMissExponent:
      return "a number has no exponent digits";
    case dom::kParseErrorTermination:
      return "parsing stopped";
    default:
      return "syntax error";
  }
}

/// Builds a document from SAX events, converting numbers itself. RapidJSON 1.1.0's full-precision
/// reader turns a zero written with an exponent ("0e100") or with many fractional zeros into
/// garbage (-1.99792e+146; Tencent/rapidjson#1249, #1441), and its default reader is not correctly
/// rounded, so numbers arrive as text and std::from_chars, which is exact, converts them.
template <class Doc>
class NumberConvertingHandler {
 public:
  using Ch = char;
  explicit NumberConvertingHandler(Doc& doc) noexcept : doc_(doc) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(std::int64_t i) { return doc_.Int64(i); }
  bool Uint64(std::uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool String(const Ch* s, dom::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool StartObject() { return doc_.StartObject(); }
  bool Key(const Ch* s, dom::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool EndObject(dom::SizeType members) { return doc_.EndObject(members); }
  bool StartArray() { return doc_.StartArray(); }
  bool EndArray(dom::SizeType elements) { return doc_.EndArray(elements); }

  bool RawNumber(const Ch* s, dom::SizeType n, bool) {
    const char* end = s + n;
    if (std::none_of(s, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; })) {
      if (*s == '-') {
        std::int64_t i = 0;
        if (auto [p, ec] = std::from_chars(s, end, i); ec == std::errc{} && p == end) {
          return doc_.Int64(i);
        }
      } else {
        std::uint64_t u = 0;
        if (auto [p, ec] = std::from_chars(s, end, u); ec == std::errc{} && p == end) {
          return doc_.Uint64(u);
        }
      }
    }
    double d = 0;
    const auto [p, ec] = std::from_chars(s, end, d);
    if (ec == std::errc::result_out_of_range && p == end) {
      if (overflows(s, end)) {
        too_big_ = true;
        return false;
      }
      return doc_.Double(*s == '-' ? -0.0 : 0.0);  // underflow: RapidJSON reads it as zero too
    }
    if (ec != std::errc{} || p != end) return false;  // the reader checked the syntax already
    return doc_.Double(d);
  }

  /// True when parsing stopped on a number beyond the range of a double.
  bool too_big() const noexcept { return too_big_; }

 private:
  // Whether a syntactically valid JSON number whose conversion is out of range is huge rather than
  // tiny: its decimal exponent, counted from the first significant digit, is positive.
  static bool overflows(const char* s, const char* end) {
    if (*s == '-') ++s;
    const char* e = std::find_if(s, end, [](char c) { return c == 'e' || c == 'E'; });
    std::int64_t exponent = 0;
    if (e != end) {
      const char* x = e + 1;
      const bool negative = *x == '-';
      if (*x == '-' || *x == '+') ++x;
      if (std::from_chars(x, end, exponent).ec == std::errc::result_out_of_range) {
        return !negative;
      }
      if (negative) exponent = -exponent;
    }
    const char* dot = std::find(s, e, '.');
    const char* first = std::find_if(s, e, [](char c) { return c >= '1' && c <= '9'; });
    // Position of the first significant digit relative to the decimal point.
    const std::int64_t position = first < dot ? dot - first : -(first - dot);
    return position + exponent > 0;
  }

  Doc& doc_;
  bool too_big_ = false;
};

/// Parses `json` (iteratively, so hostile nesting cannot exhaust the stack) and hands the root
/// value to `body`; every failure becomes InvalidArgument naming `type` and the field.
template <class Body>
void read_document(const char* type, std::string_view json, Body&& body) {
  // A version's metadata fits these buffers; without them each parse mallocs and frees a 64 KiB
  // chunk, which was a third of the time of loading 10,000 versions.
  alignas(8) char values_buffer[16384];
  alignas(8) char stack_buffer[2048];
  dom::MemoryPoolAllocator<> values(values_buffer, sizeof values_buffer);
  dom::MemoryPoolAllocator<> stack(stack_buffer, sizeof stack_buffer);
  using Document =
      dom::GenericDocument<dom::UTF8<>, dom::MemoryPoolAllocator<>, dom::MemoryPoolAllocator<>>;
  Document doc(&values, sizeof stack_buffer / 2, &stack);
  dom::ParseResult result;
  bool too_big = false;
  auto generate = [&](Document& d) {
    dom::MemoryStream bytes(json.data(), json.size());
    dom::EncodedInputStream<dom::UTF8<>, dom::MemoryStream> in(bytes);
    dom::GenericReader<dom::UTF8<>, dom::UTF8<>, dom::MemoryPoolAllocator<>> reader(&stack);
    NumberConvertingHandler<Document> handler(d);
    result = reader.Parse<dom::kParseNumbersAsStringsFlag | dom::kParseIterativeFlag>(in, handler);
    too_big = handler.too_big();
    return !result.IsError();
  };
  doc.Populate(generate);
  if (result.IsError()) {
    throw InvalidArgument(std::string(type) + " JSON is malformed at byte " +
                          std::to_string(result.Offset()) + ": " +
                          parse_error_text(too_big ? dom::kParseErrorNumberTooBig : result.Code()));
  }
  try {
    Path path;
    DomReader reader(doc, path);
    body(reader);
  } catch (const FieldError& e) {
    rethrow_as_invalid_argument(type, e);
  }
}

template <class T>
void parse_into(const char* type, std::string_view json, T& out) {
  read_document(type, json, [&](DomReader& r) { r.value(out); });
}

template <class T>
void load_from(const char* type, cereal::JSONInputArchive& ar, T& out) {
  try {
    CerealReader r(ar);
    fields(r, out);
  } catch (const FieldError& e) {
    rethrow_as_invalid_argument(type, e);
  }
}

}  // namespace switchyard::detail::json_io

namespace switchyard {

#define SWITCHYARD_JSON_TYPE(Type)                                                             \
  SWITCHYARD_INLINE std::string to_json(const Type& value, JsonStyle style) {                  \
    return detail::json_io::write_document(                                                    \
        #Type, value, style, [](detail::json_io::Writer& w, const Type& v) { fields(w, v); }); \
  }                                                                                            \
  SWITCHYARD_INLINE void detail::parse_json(std::string_view json, Type& out) {                \
    json_io::parse_into(#Type, json, out);                                                     \
  }                                                                                            \
  SWITCHYARD_INLINE void save(cereal::JSONOutputArchive& archive, const Type& value) {         \
    detail::json_io::save_into(#Type, archive, value);                                         \
  }                                                                                            \
  SWITCHYARD_INLINE void load(cereal::JSONInputArchive& archive, Type& value) {                \
    detail::json_io::load_from(#Type, archive, value);                                         \
  }

SWITCHYARD_JSON_TYPE(TensorSpec)
SWITCHYARD_JSON_TYPE(Signature)
SWITCHYARD_JSON_TYPE(ArtifactRef)
SWITCHYARD_JSON_TYPE(ModelVersion)
SWITCHYARD_JSON_TYPE(AuditRecord)
SWITCHYARD_JSON_TYPE(AliasRecord)
SWITCHYARD_JSON_TYPE(StoreState)
SWITCHYARD_JSON_TYPE(RolloutRecord)

#undef SWITCHYARD_JSON_TYPE

SWITCHYARD_INLINE std::string detail::version_metadata_to_json(const ModelVersion& version) {
  return json_io::write_document(
      "ModelVersion metadata", version, JsonStyle::kCompact,
      [](json_io::Writer& w, const ModelVersion& v) { json_io::metadata_fields(w, v); });
}

SWITCHYARD_INLINE void detail::registry_export_from_json(std::string_view json, StoreState& state,
                                                        std::vector<AuditRecord>& audit,
                                                        std::vector<ExportedArtifact>& artifacts) {
  json_io::read_document("registry export", json, [&](json_io::DomReader& r) {
    r.require_object();
    std::string format;
    std::int64_t format_version = 0;
    r.field("format", format);
    if (format != "switchyard.registry") {
      throw InvalidArgument("import: not a Switchyard registry export (format '" +
                            detail::printable(format) + "')");
    }
    r.field("format_version", format_version);
    if (format_version != 1 && format_version != 2) {
      throw InvalidArgument("import: export format_version " + std::to_string(format_version) +
                            " is not supported");
    }
    r.field("state", state);
    r.field("audit", audit);
    artifacts.clear();
    if (format_version >= 2) r.field("artifacts", artifacts);
  });
}

SWITCHYARD_INLINE void detail::require_json_object(std::string_view json, const std::string& what) {
  json_io::read_document(what.c_str(), json,
                         [](json_io::DomReader& r) { r.require_object(); });
}

SWITCHYARD_INLINE void detail::version_metadata_from_json(std::string_view json,
                                                          ModelVersion& out) {
  json_io::read_document("ModelVersion metadata", json, [&](json_io::DomReader& r) {
    r.require_object();
    json_io::metadata_fields(r, out);
  });
}

}  // namespace switchyard
