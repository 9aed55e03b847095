// SPDX-License-Identifier: Apache-2.0
// JSON serialization (cereal) of signatures, versions, audit rows, aliases and whole store images.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/core/signature.hpp>
#include <switchyard/registry/model_version.hpp>
#include <switchyard/registry/registry_store.hpp>

namespace cereal {
class JSONOutputArchive;
class JSONInputArchive;
}  // namespace cereal

namespace switchyard {

/// Thread-safety: every function here is pure (no shared state) and may run on any thread.

/// Layout of the text to_json() writes. Both are read back by from_json().
enum class JsonStyle {
  kPretty,   ///< one member per line, indented by four spaces (exports, diffs, people)
  kCompact,  ///< no indentation (store columns)
};

/// The JSON form of a registry value, for exports, imports and the SQLite store's metadata column.
///
/// Layout: objects with one named member per field, in declaration order. Enumerations are written
/// by name (`"dtype": "float64"`, `"stage": "Production"`, absent audit stages as `null`), shapes
/// and lists as arrays, string maps as objects (`"metrics": {"auc": 0.91}`), times as integer Unix
/// nanoseconds only (`"created_at_ns": 1700000000000000000`), 64-bit integers exactly. Doubles are
/// written in the shortest form that reads back to the same bits (0.1, 1e-300 and -0.0 included).
/// An audit record's evidence is an array of `{"kind", "passed" (true/false), "summary",
/// "detail_json", "actor"}` with `detail_json` kept as a string, verbatim; a record without an
/// `evidence` member (written before it existed) reads as one without evidence, and evidence
/// without an `actor` as evidence nobody signed.
///
/// Guarantee: from_json<T>(to_json(x)) == x for every value to_json accepts.
///
/// Throws InvalidArgument, naming the field by its path (e.g. `metrics.auc`,
/// `signature.inputs[1]`), when a string holds a NUL character or a double is NaN or infinite: JSON
/// cannot carry the first through cereal, and the second is not JSON at all.
SWITCHYARD_API std::string to_json(const TensorSpec& spec, JsonStyle style = JsonStyle::kPretty);
SWITCHYARD_API std::string to_json(const Signature& signature,
                                   JsonStyle style = JsonStyle::kPretty);
SWITCHYARD_API std::string to_json(const ArtifactRef& artifact,
                                   JsonStyle style = JsonStyle::kPretty);
SWITCHYARD_API std::string to_json(const ModelVersion& version,
                                   JsonStyle style = JsonStyle::kPretty);
SWITCHYARD_API std::string to_json(const AuditRecord& record, JsonStyle style = JsonStyle::kPretty);
SWITCHYARD_API std::string to_json(const AliasRecord& alias, JsonStyle style = JsonStyle::kPretty);
SWITCHYARD_API std::string to_json(const StoreState& state, JsonStyle style = JsonStyle::kPretty);
/// A rollout's record: its status by name ("rolled_back"), its decisions as an array, `plan_json`
/// as a string kept verbatim, the weights as an object of percentages.
SWITCHYARD_API std::string to_json(const RolloutRecord& record,
                                   JsonStyle style = JsonStyle::kPretty);

namespace detail {
SWITCHYARD_API void parse_json(std::string_view json, TensorSpec& out);
SWITCHYARD_API void parse_json(std::string_view json, Signature& out);
SWITCHYARD_API void parse_json(std::string_view json, ArtifactRef& out);
SWITCHYARD_API void parse_json(std::string_view json, ModelVersion& out);
SWITCHYARD_API void parse_json(std::string_view json, AuditRecord& out);
SWITCHYARD_API void parse_json(std::string_view json, AliasRecord& out);
SWITCHYARD_API void parse_json(std::string_view json, StoreState& out);
SWITCHYARD_API void parse_json(std::string_view json, RolloutRecord& out);

/// The part of a version the SQLite store keeps in its `metadata` column: every field except
/// name, version, semver, stage, the two times and the artifact, which have columns of their own.
/// Same rules and errors as to_json().
SWITCHYARD_API std::string version_metadata_to_json(const ModelVersion& version);
/// Reads what version_metadata_to_json() wrote into the metadata fields of `out`, leaving the
/// column fields untouched. Throws InvalidArgument naming the field.
SWITCHYARD_API void version_metadata_from_json(std::string_view json, ModelVersion& out);

/// Throws InvalidArgument starting with `what` unless `json` is the text of one JSON object (read
/// with the same parser as everything above: iterative, so hostile nesting cannot exhaust the
/// stack). Used for PromotionEvidence::detail_json.
SWITCHYARD_API void require_json_object(std::string_view json, const std::string& what);

/// An artifact carried inside a registry export: its SHA-256 and its bytes in base64.
struct ExportedArtifact {
  std::string sha256;
  std::string base64;
};

/// Reads a document written by ModelRegistry::export_json (format_version 1, or 2 with the
/// artifacts kept in the store); InvalidArgument names what is wrong.
SWITCHYARD_API void registry_export_from_json(std::string_view json, StoreState& state,
                                              std::vector<AuditRecord>& audit,
                                              std::vector<ExportedArtifact>& artifacts);
}  // namespace detail

/// Parses what to_json() wrote (either style). T is one of TensorSpec, Signature, ArtifactRef,
/// ModelVersion, AuditRecord, AliasRecord, StoreState, RolloutRecord.
///
/// Strict: malformed JSON (with its byte offset), a missing field, a value of the wrong JSON type,
/// an integer out of range, an unknown stage or dtype name, a duplicate map key, NaN or infinity,
/// or a string holding NUL throw InvalidArgument naming the type and the field's path. Unknown
/// extra members are ignored, so a newer writer's additions do not break an older reader.
///
/// @code
/// std::string text = switchyard::to_json(version);
/// auto back = switchyard::from_json<switchyard::ModelVersion>(text);  // back == version
/// @endcode
template <class T>
T from_json(std::string_view json) {
  T out{};
  detail::parse_json(json, out);
  return out;
}

/// cereal hooks, so a host can put these values into its own cereal JSON archives
/// (`archive(cereal::make_nvp("version", v))`). JSON archives only; the layout is the one above.
/// save() throws InvalidArgument like to_json(); load() throws InvalidArgument like from_json(),
/// except that cereal's reader cannot see a NUL inside a string and stops the string there.
SWITCHYARD_API void save(cereal::JSONOutputArchive& archive, const TensorSpec& spec);
SWITCHYARD_API void save(cereal::JSONOutputArchive& archive, const Signature& signature);
SWITCHYARD_API void save(cereal::JSONOutputArchive& archive, const ArtifactRef& artifact);
SWITCHYARD_API void save(cereal::JSONOutputArchive& archive, const ModelVersion& version);
SWITCHYARD_API void save(cereal::JSONOutputArchive& archive, const AuditRecord& record);
SWITCHYARD_API void save(cereal::JSONOutputArchive& archive, const AliasRecord& alias);
SWITCHYARD_API void save(cereal::JSONOutputArchive& archive, const StoreState& state);
SWITCHYARD_API void load(cereal::JSONInputArchive& archive, TensorSpec& spec);
SWITCHYARD_API void load(cereal::JSONInputArchive& archive, Signature& signature);
SWITCHYARD_API void load(cereal::JSONInputArchive& archive, ArtifactRef& artifact);
SWITCHYARD_API void load(cereal::JSONInputArchive& archive, ModelVersion& version);
SWITCHYARD_API void load(cereal::JSONInputArchive& archive, AuditRecord& record);
SWITCHYARD_API void load(cereal::JSONInputArchive& archive, AliasRecord& alias);
SWITCHYARD_API void load(cereal::JSONInputArchive& archive, StoreState& state);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/registry/serialization-inl.hpp>
#endif
