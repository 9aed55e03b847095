// SPDX-License-Identifier: Apache-2.0
// The registry commands of the `switchyard` CLI (register, list, show, transition, promote,
// validate, alias, rollback, history, export, import), each a function from its options to a
// CommandResult (JSON for scripts and a readable rendering), over ModelRegistry on SQLite.
#include "registry_commands.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include <switchyard/core/stage.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace switchyard::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- the registry of a data directory ------------------------------------------------------

// ModelRegistry over `<data>/registry.db` and `<data>/artifacts`, in construction order.
class OpenRegistry {
 public:
  OpenRegistry(const GlobalOptions& global, bool create) {
    if (global.data.empty()) {
      throw InvalidArgument("this command needs the registry directory: --data DIR (or "
                            "SWITCHYARD_DATA)");
    }
    const fs::path root(global.data);
    const fs::path db = root / "registry.db";
    if (!create && !fs::exists(db)) {
      throw NotFound("registry '" + db.string() +
                     "' does not exist (pass --data DIR of a registry, or register a model first)");
    }
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) throw StorageError("registry directory '" + root.string() + "': " + ec.message());
    store_ = std::make_unique<SqliteRegistryStore>(db);
    artifacts_ = std::make_unique<ArtifactStore>(root / "artifacts");
    registry_ = std::make_unique<ModelRegistry>(
        ModelRegistry::Options{.store = store_.get(), .artifacts = artifacts_.get()});
  }
  ModelRegistry& operator*() { return *registry_; }
  ModelRegistry* operator->() { return registry_.get(); }

 private:
  std::unique_ptr<SqliteRegistryStore> store_;
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<ModelRegistry> registry_;
};

// Throws NotFound unless `name` is registered (some reads return empty lists for unknown names).
void require_model(const ModelRegistry& registry, const std::string& name) {
  const auto models = registry.models();
  if (std::find(models.begin(), models.end(), name) == models.end()) {
    throw NotFound("model '" + name + "' is not registered");
  }
}

Stage parse_stage(const std::string& text) {
  if (auto stage = stage_from_string(text)) return *stage;
  throw InvalidArgument("stage '" + text +
                        "': expected Development, Staging, Production, Archived or Rejected");
}

// ---- JSON and text renderings ----------------------------------------------------------------

std::vector<std::string> aliases_of(const ModelRegistry& registry, const ModelVersion& v) {
  std::vector<std::string> out;
  for (const auto& [alias, version] : registry.aliases(v.name)) {
    if (version == v.version) out.push_back(alias);
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

json version_json(const ModelRegistry& registry, const ModelVersion& v) {
  return {{"name", v.name},
          {"version", v.version},
          {"semver", v.semver},
          {"stage", to_string(v.stage)},
          {"aliases", aliases_of(registry, v)},
          {"metrics", v.metrics},
          {"owner", v.owner},
          {"run_id", v.run_id},
          {"dataset_version", v.dataset_version},
          {"description", v.description},
          {"changelog", v.changelog},
          {"tags", v.tags},
          {"created_at", format_time(v.created_at)},
          {"stage_changed_at", format_time(v.stage_changed_at)},
          {"artifact",
           {{"format", v.artifact.format},
            {"sha256", v.artifact.sha256},
            {"size", v.artifact.size},
            {"uri", v.artifact.uri}}}};
}

std::string version_text(const ModelRegistry& registry, const ModelVersion& v) {
  TextTable t({"FIELD", "VALUE"});
  t.add_row({"model", v.name});
  t.add_row({"version", std::to_string(v.version)});
  t.add_row({"semver", v.semver});
  t.add_row({"stage", std::string(to_string(v.stage))});
  t.add_row({"aliases", join(aliases_of(registry, v))});
  t.add_row({"metrics", format_metrics(v.metrics)});
  t.add_row({"owner", v.owner});
  t.add_row({"run_id", v.run_id});
  t.add_row({"dataset_version", v.dataset_version});
  t.add_row({"description", v.description});
  t.add_row({"created_at", format_time(v.created_at)});
  t.add_row({"stage_changed_at", format_time(v.stage_changed_at)});
  t.add_row({"artifact", v.artifact.format + " sha256:" + v.artifact.sha256 + " (" +
                             std::to_string(v.artifact.size) + " bytes)"});
  return t.render();
}

json report_json(const ValidationReport& report) {
  json checks = json::array();
  for (const auto& c : report.checks) {
    checks.push_back(
        {{"gate", c.gate}, {"subject", c.subject}, {"passed", c.passed}, {"detail", c.detail}});
  }
  return {{"passed", report.passed()}, {"checks", checks}};
}

std::string report_text(const ValidationReport& report) {
  TextTable t({"GATE", "SUBJECT", "RESULT", "DETAIL"});
  for (const auto& c : report.checks) {
    t.add_row({c.gate, c.subject, c.passed ? "pass" : "FAIL", c.detail});
  }
  std::string head = "Gate report for " + report.model + " version " +
                     std::to_string(report.version) + ": " +
                     (report.passed() ? "passed" : "FAILED") + "\n";
  return head + (t.empty() ? std::string("(no checks configured)\n") : t.render());
}

std::string optional_stage(const std::optional<Stage>& s) {
  return s ? std::string(to_string(*s)) : std::string();
}

// The evidence a change rested on; a report's detail is nested as JSON (kept as text when it is
// not valid JSON, which the registry does not forbid for records written by other tools).
json evidence_json(const std::vector<PromotionEvidence>& evidence) {
  json out = json::array();
  for (const auto& e : evidence) {
    json detail = nullptr;
    if (!e.detail_json.empty()) {
      detail = json::parse(e.detail_json, nullptr, /*allow_exceptions=*/false);
      if (detail.is_discarded()) detail = e.detail_json;
    }
    out.push_back({{"kind", e.kind},
                   {"passed", e.passed},
                   {"summary", e.summary},
                   {"actor", e.actor},
                   {"detail", detail}});
  }
  return out;
}

json audit_json(const AuditRecord& r) {
  return {{"sequence", r.sequence},
          {"at", format_time(r.at)},
          {"at_unix_nanos", to_unix_nanos(r.at)},
          {"actor", r.actor},
          {"model", r.model},
          {"version", r.version},
          {"action", r.action},
          {"from_stage", r.from_stage ? json(to_string(*r.from_stage)) : json(nullptr)},
          {"to_stage", r.to_stage ? json(to_string(*r.to_stage)) : json(nullptr)},
          {"alias", r.alias},
          {"reason", r.reason},
          {"evidence", evidence_json(r.evidence)}};
}

// ---- commands ----------------------------------------------------------------------------------

struct RegisterOptions {
  std::string file;
  std::string name;
  std::string format = std::string(kLinearFormat);
  std::string semver;
  std::vector<std::string> metrics;
  std::vector<std::string> tags;
  std::string owner;
  std::string description;
  std::string run_id;
  std::string dataset_version;
};

CommandResult run_register(const GlobalOptions& global, const RegisterOptions& o) {
  VersionMetadata metadata;
  metadata.semver = o.semver;
  metadata.metrics = parse_numbers(o.metrics, "--metric");
  metadata.tags = parse_strings(o.tags, "--tag");
  metadata.owner = o.owner;
  metadata.description = o.description;
  metadata.run_id = o.run_id;
  metadata.dataset_version = o.dataset_version;
  Artifact artifact{o.format, read_file(o.file, "model file")};
  OpenRegistry registry(global, /*create=*/true);
  VersionRef v;
  try {
    v = registry->register_version(o.name, artifact, std::move(metadata), {.actor = global.actor});
  } catch (const LoadError& e) {
    throw LoadError("model file '" + o.file + "' (format " + o.format + "): " + e.what());
  }
  return {version_json(*registry, *v),
          "Registered " + v->name + " version " + std::to_string(v->version) +
              (v->semver.empty() ? "" : " (" + v->semver + ")") + " in " +
              std::string(to_string(v->stage)) + ", sha256 " + v->artifact.sha256 + "\n"};
}

struct ListOptions {
  std::string model;
};

CommandResult run_list(const GlobalOptions& global, const ListOptions& o) {
  OpenRegistry registry(global, false);
  if (o.model.empty()) {
    json models = json::array();
    TextTable t({"MODEL", "VERSIONS", "LATEST", "PRODUCTION", "ALIASES"});
    for (const auto& name : registry->models()) {
      const auto versions = registry->versions(name);
      const auto prod = registry->versions(name, Stage::kProduction);
      std::vector<std::int64_t> prod_numbers;
      std::vector<std::string> prod_text;
      for (const auto& v : prod) {
        prod_numbers.push_back(v->version);
        prod_text.push_back(std::to_string(v->version));
      }
      const auto aliases = registry->aliases(name);
      const std::int64_t latest = versions.empty() ? 0 : versions.back()->version;
      models.push_back({{"name", name},
                        {"versions", versions.size()},
                        {"latest", latest},
                        {"production", prod_numbers},
                        {"aliases", aliases}});
      std::vector<std::string> alias_text;
      for (const auto& [alias, version] : aliases) {
        alias_text.push_back(alias + "=" + std::to_string(version));
      }
      t.add_row({name, std::to_string(versions.size()), std::to_string(latest), join(prod_text),
                 join(alias_text)});
    }
    return {{{"models", models}}, t.empty() ? "(no models registered)\n" : t.render()};
  }
  require_model(*registry, o.model);
  json versions = json::array();
  TextTable t({"VERSION", "SEMVER", "STAGE", "ALIASES", "CREATED", "OWNER", "METRICS"});
  for (const auto& v : registry->versions(o.model)) {
    versions.push_back(version_json(*registry, *v));
    t.add_row({std::to_string(v->version), v->semver, std::string(to_string(v->stage)),
               join(aliases_of(*registry, *v)), format_time(v->created_at), v->owner,
               format_metrics(v->metrics)});
  }
  return {{{"model", o.model}, {"versions", versions}}, t.render()};
}

struct ShowOptions {
  std::string model;
  std::string selector = "latest";
};

CommandResult run_show(const GlobalOptions& global, const ShowOptions& o) {
  OpenRegistry registry(global, false);
  require_model(*registry, o.model);
  const auto v = registry->find(o.model, o.selector);
  return {version_json(*registry, *v), version_text(*registry, *v)};
}

struct TransitionOptionsCli {
  std::string model;
  std::string selector;
  std::string stage;
  std::string reason;
  std::vector<std::string> min;
  std::vector<std::string> max;
  std::vector<std::string> evidence;
  bool sign_off = false;
  bool keep_existing_production = false;
};

// --evidence KIND=FILE: FILE is a JSON report (a shadow report, an experiment decision, a load
// test); its top-level "passed" (a boolean) says whether the check succeeded and "summary" (a
// string) gives the audit line, which otherwise names the file. The report is kept verbatim.
PromotionEvidence read_evidence(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    throw InvalidArgument("--evidence '" + spec + "': expected KIND=FILE, e.g. shadow=report.json");
  }
  const std::string kind = spec.substr(0, eq);
  const std::string file = spec.substr(eq + 1);
  std::string text = read_file(file, "evidence file");
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw InvalidArgument("evidence file '" + file + "': not a JSON object");
  }
  const auto passed = doc.find("passed");
  if (passed == doc.end() || !passed->is_boolean()) {
    throw InvalidArgument("evidence file '" + file + "': field 'passed' must be true or false");
  }
  const auto summary = doc.find("summary");
  PromotionEvidence e{.kind = kind,
                      .passed = passed->get<bool>(),
                      .summary = summary != doc.end() && summary->is_string()
                                     ? summary->get<std::string>()
                                     : kind + " report " + std::filesystem::path(file).filename().string(),
                      .detail_json = std::move(text)};
  return e;
}

// The gates given with --min / --max; none when neither is given (the registry's own apply).
std::optional<ValidationPolicy> policy_of(const std::vector<std::string>& min,
                                          const std::vector<std::string>& max) {
  if (min.empty() && max.empty()) return std::nullopt;
  ValidationPolicy p;
  std::map<std::string, MetricThreshold> bounds;
  for (const auto& [metric, value] : parse_numbers(min, "--min")) {
    bounds[metric].metric = metric;
    bounds[metric].min = value;
  }
  for (const auto& [metric, value] : parse_numbers(max, "--max")) {
    bounds[metric].metric = metric;
    bounds[metric].max = value;
  }
  for (auto& [metric, threshold] : bounds) p.thresholds.push_back(threshold);
  return p;
}

CommandResult run_transition(const GlobalOptions& global, const TransitionOptionsCli& o) {
  const Stage to = parse_stage(o.stage);
  const std::optional<ValidationPolicy> policy = policy_of(o.min, o.max);
  OpenRegistry registry(global, false);
  require_model(*registry, o.model);
  const auto before = registry->find(o.model, o.selector);
  // Development -> Staging is gated: run the gates first so that the report can be shown whatever
  // the outcome; transition() runs them again and records a failure as Rejected.
  std::optional<ValidationReport> report;
  if (before->stage == Stage::kDevelopment && to == Stage::kStaging) {
    report = registry->validate(o.model, before->version, policy);
  }
  json doc = {{"model", o.model},
              {"version", before->version},
              {"from", to_string(before->stage)},
              {"to", to_string(to)},
              {"gate_report", report ? report_json(*report) : json(nullptr)}};
  std::string text = report ? report_text(*report) : std::string();
  TransitionOptions options{.actor = global.actor,
                            .reason = o.reason,
                            .keep_existing_production = o.keep_existing_production,
                            .policy = policy};
  for (const auto& spec : o.evidence) options.evidence.push_back(read_evidence(spec));
  if (o.sign_off) {
    if (global.actor.empty()) throw InvalidArgument("--sign-off needs --actor (who signs)");
    options.evidence.push_back({.kind = std::string(kSignOffEvidence),
                                .passed = true,
                                .summary = "signed off by " + global.actor,
                                .actor = global.actor});
  }
  try {
    registry->transition(o.model, before->version, to, options);
  } catch (const ValidationFailed& e) {
    throw ReportedError(e.code(), e.what(), {doc, text});
  }
  text += o.model + " version " + std::to_string(before->version) + ": " +
          std::string(to_string(before->stage)) + " -> " + std::string(to_string(to)) + "\n";
  return {doc, text};
}

// `promote`: Development -> Staging (the gates) -> Production, or Staging -> Production, in one
// command; each step is an ordinary transition with its audit row.
CommandResult run_promote(const GlobalOptions& global, const TransitionOptionsCli& o) {
  Stage from = Stage::kDevelopment;
  std::int64_t version = 0;
  {
    OpenRegistry registry(global, false);
    require_model(*registry, o.model);
    const auto v = registry->find(o.model, o.selector);
    from = v->stage;
    version = v->version;
  }
  if (from != Stage::kDevelopment && from != Stage::kStaging) {
    throw InvalidTransition(o.model + " version " + std::to_string(version) + " is " +
                            std::string(to_string(from)) +
                            "; promote takes a Development or Staging version to Production");
  }
  TransitionOptionsCli step = o;
  step.selector = std::to_string(version);
  json steps = json::array();
  std::string text;
  if (from == Stage::kDevelopment) {
    step.stage = "Staging";
    CommandResult staged = run_transition(global, step);
    steps.push_back(staged.json);
    text += staged.text;
  }
  step.stage = "Production";
  step.min.clear();  // the gates ran on the way to Staging
  step.max.clear();
  CommandResult produced = run_transition(global, step);
  steps.push_back(produced.json);
  text += produced.text;
  return {{{"model", o.model}, {"version", version}, {"stage", "Production"}, {"steps", steps}},
          text};
}

struct ValidateOptions {
  std::string model;
  std::string selector = "latest";
  std::vector<std::string> min;
  std::vector<std::string> max;
};

// `validate`: the gates' report for a version, changing nothing; exit 3 when a gate fails.
CommandResult run_validate(const GlobalOptions& global, const ValidateOptions& o) {
  const std::optional<ValidationPolicy> policy = policy_of(o.min, o.max);
  OpenRegistry registry(global, false);
  require_model(*registry, o.model);
  const auto v = registry->find(o.model, o.selector);
  const ValidationReport report = registry->validate(o.model, v->version, policy);
  CommandResult result{{{"model", o.model}, {"version", v->version}, {"gate_report", report_json(report)}},
                       report_text(report)};
  if (!report.passed()) {
    throw ReportedError(ErrorCode::kValidationFailed,
                        o.model + " version " + std::to_string(v->version) +
                            " fails its validation gates",
                        std::move(result));
  }
  return result;
}

struct AliasOptions {
  std::string model;
  std::string alias;
  std::string selector;
  std::string reason;
};

CommandResult run_alias_set(const GlobalOptions& global, const AliasOptions& o) {
  OpenRegistry registry(global, false);
  require_model(*registry, o.model);
  const auto v = registry->find(o.model, o.selector);
  registry->set_alias(o.model, o.alias, v->version, {.actor = global.actor, .reason = o.reason});
  return {{{"model", o.model}, {"alias", o.alias}, {"version", v->version}},
          o.model + "@" + o.alias + " -> version " + std::to_string(v->version) + "\n"};
}

CommandResult run_alias_remove(const GlobalOptions& global, const AliasOptions& o) {
  OpenRegistry registry(global, false);
  require_model(*registry, o.model);
  registry->remove_alias(o.model, o.alias, {.actor = global.actor, .reason = o.reason});
  return {{{"model", o.model}, {"alias", o.alias}, {"removed", true}},
          "Removed alias " + o.model + "@" + o.alias + "\n"};
}

struct RollbackOptions {
  std::string model;
  std::optional<std::int64_t> to;
  std::string reason;
};

CommandResult run_rollback(const GlobalOptions& global, const RollbackOptions& o) {
  OpenRegistry registry(global, false);
  require_model(*registry, o.model);
  std::vector<std::int64_t> previous;
  for (const auto& v : registry->versions(o.model, Stage::kProduction)) {
    previous.push_back(v->version);
  }
  const auto v = registry->rollback(o.model, {.actor = global.actor, .reason = o.reason}, o.to);
  std::string was;
  for (auto p : previous) was += (was.empty() ? "" : ",") + std::to_string(p);
  return {{{"model", o.model}, {"production", v->version}, {"previous_production", previous}},
          "Rolled back " + o.model + " to version " + std::to_string(v->version) +
              (was.empty() ? "" : " (version " + was + " archived)") + "\n"};
}

struct HistoryOptions {
  std::string model;
  std::string at;
};

CommandResult run_history(const GlobalOptions& global, const HistoryOptions& o) {
  std::optional<TimePoint> at;
  if (!o.at.empty()) at = parse_time(o.at, "--at");
  OpenRegistry registry(global, false);
  require_model(*registry, o.model);
  if (at) {
    const auto versions = registry->production_at(o.model, *at);
    std::string list;
    for (auto v : versions) list += (list.empty() ? "" : ", ") + std::to_string(v);
    return {{{"model", o.model}, {"at", format_time(*at)}, {"production", versions}},
            versions.empty()
                ? "No version of " + o.model + " was in Production at " + format_time(*at) + "\n"
                : "In Production at " + format_time(*at) + ": " + o.model + " version " + list +
                      "\n"};
  }
  json records = json::array();
  TextTable t({"SEQ", "AT", "ACTOR", "ACTION", "VERSION", "FROM", "TO", "ALIAS", "REASON"});
  for (const auto& r : registry->history(o.model)) {
    records.push_back(audit_json(r));
    t.add_row({std::to_string(r.sequence), format_time(r.at), r.actor, r.action,
               std::to_string(r.version), optional_stage(r.from_stage), optional_stage(r.to_stage),
               r.alias, r.reason});
  }
  return {{{"model", o.model}, {"history", records}}, t.render()};
}

struct ExportOptions {
  std::string output;
};

CommandResult run_export(const GlobalOptions& global, const ExportOptions& o) {
  OpenRegistry registry(global, false);
  const std::string text = registry->export_json();
  if (o.output.empty()) {
    // The export is JSON already: print it as is, with or without --json.
    return {json::parse(text), text};
  }
  write_file(o.output, text);
  return {{{"output", o.output}, {"bytes", text.size()}, {"models", registry->models()}},
          "Exported " + std::to_string(registry->models().size()) + " model(s) to " + o.output +
              "\n"};
}

struct ImportOptions {
  std::string file;
};

CommandResult run_import(const GlobalOptions& global, const ImportOptions& o) {
  const std::string text = read_file(o.file, "export file");
  OpenRegistry registry(global, true);
  try {
    registry->import_json(text);
  } catch (const Error& e) {
    throw Error(e.code(), "export file '" + o.file + "': " + e.what());
  }
  return {{{"input", o.file}, {"models", registry->models()}},
          "Imported " + std::to_string(registry->models().size()) + " model(s) from " + o.file +
              "\n"};
}

void add_gate_options(CLI::App* c, std::vector<std::string>& min, std::vector<std::string>& max) {
  c->add_option("--min", min, "Gate: metric at least METRIC=NUMBER, repeatable");
  c->add_option("--max", max, "Gate: metric at most METRIC=NUMBER, repeatable");
}

// The options of a stage change (transition, promote).
void add_transition_options(CLI::App* c, TransitionOptionsCli& o) {
  c->add_option("--reason", o.reason, "Why, for the audit trail");
  add_gate_options(c, o.min, o.max);
  c->add_flag("--keep-existing-production", o.keep_existing_production,
              "To Production: keep the current Production version(s) instead of archiving");
  c->add_option("--evidence", o.evidence,
                "KIND=FILE: a JSON report with \"passed\" (and \"summary\") the transition rests "
                "on (shadow, ab_test, canary, load_test), kept in the audit trail; repeatable");
  c->add_flag("--sign-off", o.sign_off,
              "Record the --actor's sign-off (a policy may require one of the model's owners)");
}

}  // namespace

void add_registry_commands(CLI::App& app, const GlobalOptions& global, CommandAction& action) {
  const std::string selector_help =
      "Version: a number, latest, a stage (Production), @alias or a semver (1.2.0)";
  {
    auto o = std::make_shared<RegisterOptions>();
    auto* c = app.add_subcommand("register", "Register a model file as the next version");
    c->add_option("file", o->file, "Model file (e.g. LogisticModel::to_artifact() bytes)")
        ->required();
    c->add_option("--name", o->name, "Model name, <domain>-<task> (fraud-detection)")->required();
    c->add_option("--format", o->format, "Loader format of the file")->capture_default_str();
    c->add_option("--semver", o->semver, "Semantic version kept as metadata (1.2.0)");
    c->add_option("--metric", o->metrics, "Offline metric KEY=NUMBER, repeatable (auc=0.91)");
    c->add_option("--tag", o->tags, "Tag KEY=VALUE, repeatable");
    c->add_option("--owner", o->owner, "Owner of the version");
    c->add_option("--description", o->description, "What this version is");
    c->add_option("--run-id", o->run_id, "Training run id");
    c->add_option("--dataset-version", o->dataset_version, "Training data version");
    on_parse(c, global, action, o, run_register);
  }
  {
    auto o = std::make_shared<ListOptions>();
    auto* c = app.add_subcommand("list", "List models, or the versions of one model");
    c->add_option("model", o->model, "Model name: list its versions with stage and aliases");
    on_parse(c, global, action, o, run_list);
  }
  {
    auto o = std::make_shared<ShowOptions>();
    auto* c = app.add_subcommand("show", "Show one version's metadata");
    c->add_option("model", o->model, "Model name")->required();
    c->add_option("version", o->selector, selector_help)->capture_default_str();
    on_parse(c, global, action, o, run_show);
  }
  {
    auto o = std::make_shared<TransitionOptionsCli>();
    auto* c = app.add_subcommand(
        "transition", "Move a version to a stage; Development -> Staging runs the gates");
    c->add_option("model", o->model, "Model name")->required();
    c->add_option("version", o->selector, selector_help)->required();
    c->add_option("stage", o->stage, "Development, Staging, Production, Archived or Rejected")
        ->required();
    add_transition_options(c, *o);
    on_parse(c, global, action, o, run_transition);
  }
  {
    auto o = std::make_shared<TransitionOptionsCli>();
    auto* c = app.add_subcommand(
        "promote",
        "Take a version to Production: through the Staging gates from Development, or from "
        "Staging; the previous Production version is archived");
    c->add_option("model", o->model, "Model name")->required();
    c->add_option("version", o->selector, selector_help)->required();
    add_transition_options(c, *o);
    on_parse(c, global, action, o, run_promote);
  }
  {
    auto o = std::make_shared<ValidateOptions>();
    auto* c = app.add_subcommand(
        "validate", "Run a version's validation gates and print the report; changes nothing");
    c->add_option("model", o->model, "Model name")->required();
    c->add_option("version", o->selector, selector_help)->capture_default_str();
    add_gate_options(c, o->min, o->max);
    on_parse(c, global, action, o, run_validate);
  }
  {
    auto* alias = app.add_subcommand("alias", "Set or remove an alias (champion, challenger)");
    alias->require_subcommand(1);
    auto set = std::make_shared<AliasOptions>();
    auto* c = alias->add_subcommand("set", "Point an alias at a version (moves it if set)");
    c->add_option("model", set->model, "Model name")->required();
    c->add_option("alias", set->alias, "Alias name")->required();
    c->add_option("version", set->selector, selector_help)->required();
    c->add_option("--reason", set->reason, "Why, for the audit trail");
    on_parse(c, global, action, set, run_alias_set);
    auto remove = std::make_shared<AliasOptions>();
    c = alias->add_subcommand("remove", "Delete an alias");
    c->add_option("model", remove->model, "Model name")->required();
    c->add_option("alias", remove->alias, "Alias name")->required();
    c->add_option("--reason", remove->reason, "Why, for the audit trail");
    on_parse(c, global, action, remove, run_alias_remove);
  }
  {
    auto o = std::make_shared<RollbackOptions>();
    auto* c = app.add_subcommand(
        "rollback", "Return a model to its last known-good Production version");
    c->add_option("model", o->model, "Model name")->required();
    c->add_option("--to", o->to, "Version to return to (must have been in Production)");
    c->add_option("--reason", o->reason, "Why, for the audit trail");
    on_parse(c, global, action, o, run_rollback);
  }
  {
    auto o = std::make_shared<HistoryOptions>();
    auto* c = app.add_subcommand("history", "The audit trail of a model, or Production at a time");
    c->add_option("model", o->model, "Model name")->required();
    c->add_option("--at", o->at, "What was in Production at TIME (UTC, 2024-05-01T12:00:00Z)");
    on_parse(c, global, action, o, run_history);
  }
  {
    auto o = std::make_shared<ExportOptions>();
    auto* c = app.add_subcommand("export", "Write the whole registry as JSON");
    c->add_option("--output,-o", o->output, "File to write (default: standard output)");
    on_parse(c, global, action, o, run_export);
  }
  {
    auto o = std::make_shared<ImportOptions>();
    auto* c = app.add_subcommand("import", "Restore an export into an empty registry");
    c->add_option("file", o->file, "Export file")->required();
    on_parse(c, global, action, o, run_import);
  }
}

}  // namespace switchyard::cli
