// SPDX-License-Identifier: Apache-2.0
// `switchyard ab-test analyze` and `switchyard drift report`: CSV files through the library's
// Experiment (A/B analysis and decision) and drift evaluation (Evidently's tests), no registry.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <switchyard/drift/drift_evaluation.hpp>
#include <switchyard/drift/reference_profile.hpp>
#include <switchyard/rollout/experiment.hpp>

#include "analysis_commands.hpp"
#include "csv_table.hpp"

namespace switchyard::cli {
namespace {

using nlohmann::json;

// ---- ab-test analyze -------------------------------------------------------------------------

struct AbTestOptions {
  std::string file;
  std::string variant_column = "variant";
  std::string control;
  std::string treatment;
  std::optional<double> split;  // percent of traffic on the control (seed 000's --split)
  std::vector<std::string> weights;
  std::string primary;
  std::vector<std::string> guardrails;
  std::vector<std::string> lower_is_better;
  bool sequential = false;
  double confidence = 0.95;
  double mde = 0.05;
};

// Columns with a meaning of their own; every other column is an outcome metric.
constexpr const char* kRequestIdColumn = "request_id";
constexpr const char* kLabelColumn = "label";
constexpr const char* kPredictionColumn = "prediction";
constexpr const char* kScoreColumn = "score";
constexpr const char* kLatencyColumn = "latency_ms";

// One metric the CSV can give, and the column its values come from.
struct CsvMetric {
  MetricSpec spec;
  std::optional<std::size_t> column;  // outcomes; accuracy, log loss and latency use fixed ones
};

std::vector<CsvMetric> metrics_of(const CsvTable& t, std::size_t variant_column,
                                  const AbTestOptions& o) {
  std::vector<CsvMetric> out;
  const auto label = t.find_column(kLabelColumn);
  const auto prediction = t.find_column(kPredictionColumn);
  if (label.has_value() != prediction.has_value()) {
    throw InvalidArgument(t.file() + ": columns 'label' and 'prediction' go together (accuracy "
                          "compares them); it has only '" +
                          std::string(label ? kLabelColumn : kPredictionColumn) + "'");
  }
  if (label) {
    out.push_back({{.name = "accuracy", .kind = MetricKind::kAccuracy}, std::nullopt});
    if (t.find_column(kScoreColumn)) {
      out.push_back({{.name = "log_loss", .kind = MetricKind::kLogLoss}, std::nullopt});
    }
  }
  if (t.find_column(kLatencyColumn)) {
    out.push_back({{.name = "latency", .kind = MetricKind::kLatency}, std::nullopt});
  }
  const std::set<std::string, std::less<>> special = {kRequestIdColumn, kLabelColumn,
                                                      kPredictionColumn, kScoreColumn,
                                                      kLatencyColumn};
  for (std::size_t c = 0; c < t.header().size(); ++c) {
    if (c == variant_column || special.count(t.header()[c])) continue;
    // 0/1 everywhere: a rate (conversion); anything else: a mean (revenue). Empty cells are
    // exposures without an outcome.
    bool binary = true;
    for (std::size_t r = 0; r < t.rows() && binary; ++r) {
      if (t.empty_cell(r, c)) continue;
      const double v = t.number(r, c);
      binary = v == 0.0 || v == 1.0;
    }
    out.push_back({{.name = t.header()[c],
                    .kind = binary ? MetricKind::kBinary : MetricKind::kContinuous},
                   c});
  }
  for (auto& m : out) {
    m.spec.minimum_detectable_effect = o.mde;
    if (std::find(o.lower_is_better.begin(), o.lower_is_better.end(), m.spec.name) !=
        o.lower_is_better.end()) {
      m.spec.direction = MetricDirection::kLowerIsBetter;
    }
  }
  for (const auto& name : o.lower_is_better) {
    if (std::none_of(out.begin(), out.end(), [&](const CsvMetric& m) { return m.spec.name == name; })) {
      throw InvalidArgument("--lower-is-better " + name + ": " + t.file() + " has no metric '" +
                            name + "'");
    }
  }
  if (out.empty()) {
    throw InvalidArgument(t.file() + ": no metric columns (give label and prediction, latency_ms, "
                          "or outcome columns such as converted or revenue)");
  }
  return out;
}

CommandResult run_ab_test(const GlobalOptions&, const AbTestOptions& o) {
  if (!(o.confidence > 0.0 && o.confidence < 1.0)) {
    throw InvalidArgument("--confidence must be between 0 and 1, got " + format_number(o.confidence));
  }
  if (o.split && !(*o.split > 0.0 && *o.split < 100.0)) {
    throw InvalidArgument("--split must be a percentage between 0 and 100 (exclusive), got " +
                          format_number(*o.split));
  }
  if (o.split && (o.control.empty() || o.treatment.empty())) {
    throw InvalidArgument("--split needs --model-a (control) and --model-b (treatment)");
  }
  const CsvTable t = CsvTable::read(o.file);
  const std::size_t variant_column = t.column(o.variant_column, "--variant-column");
  const auto request_id_column = t.find_column(kRequestIdColumn);

  // The arms: every variant seen, in order of appearance, or the two the command line names.
  std::vector<std::string> variants;
  for (std::size_t r = 0; r < t.rows(); ++r) {
    const std::string& v = t.cell(r, variant_column);
    if (v.empty()) throw InvalidArgument(t.where(r, variant_column) + ": empty variant");
    if (std::find(variants.begin(), variants.end(), v) == variants.end()) variants.push_back(v);
  }
  auto require_variant = [&](const std::string& v, const char* option) {
    if (std::find(variants.begin(), variants.end(), v) == variants.end()) {
      throw InvalidArgument(std::string(option) + " " + v + ": no row of " + t.file() +
                            " has variant '" + v + "'");
    }
  };
  if (!o.control.empty()) require_variant(o.control, "--model-a/--control");
  if (!o.treatment.empty()) {
    require_variant(o.treatment, "--model-b/--treatment");
    if (o.treatment == o.control) throw InvalidArgument("--model-b names the control itself");
    std::string control = o.control;
    for (std::size_t i = 0; control.empty() && i < variants.size(); ++i) {
      if (variants[i] != o.treatment) control = variants[i];
    }
    if (control.empty()) {
      throw InvalidArgument(t.file() + ": every row has variant '" + o.treatment +
                            "'; there is no control to compare it with");
    }
    variants = {control, o.treatment};
  } else if (!o.control.empty()) {
    std::stable_partition(variants.begin(), variants.end(),
                          [&](const std::string& v) { return v == o.control; });
  }
  if (variants.size() < 2) {
    throw InvalidArgument(t.file() + ": every row has variant '" + variants.front() +
                          "'; an A/B test needs at least two");
  }
  std::map<std::string, double> weights;
  for (const auto& v : variants) weights[v] = 1.0;
  if (o.split) {
    weights[variants[0]] = *o.split;
    weights[variants[1]] = 100.0 - *o.split;
  }
  for (const auto& [variant, w] : parse_numbers(o.weights, "--weight")) {
    if (!weights.count(variant)) {
      throw InvalidArgument("--weight " + variant + "=" + format_number(w) +
                            ": not an analysed variant");
    }
    weights[variant] = w;
  }

  std::vector<CsvMetric> metrics = metrics_of(t, variant_column, o);
  auto find_metric = [&](const std::string& name, const char* option) -> const CsvMetric& {
    for (const auto& m : metrics) {
      if (m.spec.name == name) return m;
    }
    std::string names;
    for (const auto& m : metrics) names += (names.empty() ? "" : ", ") + m.spec.name;
    throw InvalidArgument(std::string(option) + " " + name + ": " + t.file() +
                          " has no such metric; its metrics are " + names);
  };
  const CsvMetric& primary = o.primary.empty() ? metrics.front() : find_metric(o.primary, "--primary");
  std::vector<MetricSpec> guardrails;
  if (o.guardrails.empty()) {
    for (const auto& m : metrics) {
      if (m.spec.name != primary.spec.name) guardrails.push_back(m.spec);
    }
  } else {
    for (const auto& g : o.guardrails) {
      const auto& m = find_metric(g, "--guardrail");
      if (m.spec.name == primary.spec.name) {
        throw InvalidArgument("--guardrail " + g + ": it is the primary metric");
      }
      guardrails.push_back(m.spec);
    }
  }
  const auto is_guardrail = [&](const std::string& name) {
    return std::any_of(guardrails.begin(), guardrails.end(),
                       [&](const MetricSpec& g) { return g.name == name; });
  };

  Experiment::Options options{
      .name = t.file(),
      .control = variants.front(),
      .primary = primary.spec,
      .guardrails = guardrails,
      .mode = o.sequential ? AnalysisMode::kSequential : AnalysisMode::kFixedHorizon,
      .confidence = o.confidence,
      .max_pending = std::max<std::size_t>(t.rows(), 1)};
  for (const auto& v : variants) options.arms.push_back({v, weights[v]});
  Experiment experiment(std::move(options));

  const auto label_column = t.find_column(kLabelColumn);
  const auto prediction_column = t.find_column(kPredictionColumn);
  const auto score_column = t.find_column(kScoreColumn);
  const auto latency_column = t.find_column(kLatencyColumn);
  std::set<std::string, std::less<>> ids;
  std::uint64_t skipped = 0;
  for (std::size_t r = 0; r < t.rows(); ++r) {
    const std::string& variant = t.cell(r, variant_column);
    if (std::find(variants.begin(), variants.end(), variant) == variants.end()) {
      ++skipped;  // a variant the command line left out
      continue;
    }
    const std::string id =
        request_id_column ? t.cell(r, *request_id_column) : "row-" + std::to_string(r + 1);
    if (id.empty()) throw InvalidArgument(t.where(r, *request_id_column) + ": empty request id");
    if (!ids.insert(id).second) {
      throw InvalidArgument(t.where(r, *request_id_column) + ": request id '" + id +
                            "' appears twice");
    }
    Exposure e{.request_id = id, .variant = variant};
    std::optional<long long> label;
    if (label_column) {
      label = t.integer(r, *label_column);
      const long long predicted = t.integer(r, *prediction_column);
      if (predicted < 0 || predicted > std::numeric_limits<std::int32_t>::max()) {
        throw InvalidArgument(t.where(r, *prediction_column) + ": a class must be 0 or more");
      }
      e.predicted_label = static_cast<std::int32_t>(predicted);
      if (*label < 0 || *label > std::numeric_limits<std::int32_t>::max()) {
        throw InvalidArgument(t.where(r, *label_column) + ": a class must be 0 or more");
      }
    }
    if (score_column && (is_guardrail("log_loss") || primary.spec.name == "log_loss")) {
      e.score = t.number(r, *score_column);
      if (e.score < 0.0 || e.score > 1.0) {
        throw InvalidArgument(t.where(r, *score_column) + ": a probability must be in [0, 1]");
      }
    }
    if (latency_column && !t.empty_cell(r, *latency_column)) {
      e.latency_ms = t.number(r, *latency_column);
      if (e.latency_ms < 0.0) {
        throw InvalidArgument(t.where(r, *latency_column) + ": a latency cannot be negative");
      }
    }
    experiment.expose(e);
    if (label) experiment.record_label(id, static_cast<std::int32_t>(*label));
    for (const auto& m : metrics) {
      if (!m.column || t.empty_cell(r, *m.column)) continue;
      if (m.spec.name != primary.spec.name && !is_guardrail(m.spec.name)) continue;
      experiment.record_outcome(id, m.spec.name, t.number(r, *m.column));
    }
  }
  const ExperimentReport report = experiment.analyze();
  json doc = json::parse(report.to_json());
  doc["input"] = {{"file", t.file()}, {"rows", t.rows()}, {"rows_skipped", skipped}};
  doc["winner"] = report.decision.kind == DecisionKind::kShipTreatment ? json(report.decision.variant)
                                                                       : json(nullptr);
  std::string text = report.to_string();
  if (skipped) {
    text += std::to_string(skipped) + " row(s) of other variants left out\n";
  }
  return {doc, text};
}

// ---- drift report ----------------------------------------------------------------------------

struct DriftCliOptions {
  std::string reference;
  std::string current;
  std::string prediction_column;
  std::vector<std::string> categorical;
  std::vector<std::string> ignore;
  std::string test = "auto";
  std::optional<double> threshold;
  std::string correction = "none";
  double drift_share = 0.5;
  bool seed_003 = false;
  bool all_statistics = false;
  bool fail_on_drift = false;
};

DriftTest parse_test(const std::string& name) {
  for (auto t : {DriftTest::kAuto, DriftTest::kPsi, DriftTest::kKlDivergence,
                 DriftTest::kJensenShannon, DriftTest::kWassersteinNormed,
                 DriftTest::kKolmogorovSmirnov, DriftTest::kChiSquare, DriftTest::kZTest}) {
    if (name == to_string(t)) return t;
  }
  throw InvalidArgument("--test '" + name +
                        "': expected auto, psi, kl_div, jensenshannon, wasserstein, ks, "
                        "chisquare or z");
}

DriftCorrection parse_correction(const std::string& name) {
  for (auto c : {DriftCorrection::kNone, DriftCorrection::kBonferroni, DriftCorrection::kFdr}) {
    if (name == to_string(c)) return c;
  }
  throw InvalidArgument("--correction '" + name + "': expected none, bonferroni or fdr_bh");
}

// A column of both files: numeric, or categorical with its values coded as numbers (codes
// given in order of first appearance, reference first, so a value only the current file has gets
// a code the reference never saw).
struct DriftColumn {
  std::string name;
  std::size_t reference_index = 0;
  std::size_t current_index = 0;
  bool categorical = false;
  std::map<std::string, double, std::less<>> codes;

  double value(const CsvTable& t, std::size_t row, std::size_t column) {
    if (t.empty_cell(row, column)) return std::numeric_limits<double>::quiet_NaN();
    if (!categorical) {
      const auto v = t.try_number(row, column);
      if (!v) {
        throw InvalidArgument(t.where(row, column) + ": '" + t.cell(row, column) +
                              "' is not a number (the column is numeric in the reference; "
                              "pass --categorical " + name + " to compare it as categories)");
      }
      return *v;
    }
    const auto [it, added] =
        codes.emplace(t.cell(row, column), static_cast<double>(codes.size()));
    return it->second;
  }
};

CommandResult run_drift_report(const GlobalOptions&, const DriftCliOptions& o) {
  DriftOptions options = o.seed_003 ? DriftOptions::seed_003() : DriftOptions{};
  if (!o.seed_003 || o.test != "auto") options.features.test = parse_test(o.test);
  if (o.threshold) {
    if (!std::isfinite(*o.threshold) || *o.threshold < 0.0) {
      throw InvalidArgument("--threshold must be a finite number, 0 or more");
    }
    options.features.threshold = *o.threshold;
  }
  options.correction = parse_correction(o.correction);
  if (!(o.drift_share > 0.0 && o.drift_share <= 1.0)) {
    throw InvalidArgument("--drift-share must be in (0, 1], got " + format_number(o.drift_share));
  }
  options.drift_share = o.drift_share;
  options.all_statistics = o.all_statistics;

  const CsvTable reference = CsvTable::read(o.reference);
  const CsvTable current = CsvTable::read(o.current);
  for (const auto& name : o.categorical) reference.column(name, "--categorical");
  for (const auto& name : o.ignore) reference.column(name, "--ignore");
  std::vector<DriftColumn> columns;
  std::optional<DriftColumn> prediction;
  for (std::size_t c = 0; c < reference.header().size(); ++c) {
    const std::string& name = reference.header()[c];
    if (std::find(o.ignore.begin(), o.ignore.end(), name) != o.ignore.end()) continue;
    DriftColumn column{.name = name,
                       .reference_index = c,
                       .current_index = current.column(name, "a column of the reference")};
    column.categorical =
        std::find(o.categorical.begin(), o.categorical.end(), name) != o.categorical.end();
    // A column with a cell that is not a number is categorical.
    for (std::size_t r = 0; r < reference.rows() && !column.categorical; ++r) {
      column.categorical = !reference.empty_cell(r, c) && !reference.try_number(r, c);
    }
    if (name == o.prediction_column) {
      prediction = std::move(column);
    } else {
      columns.push_back(std::move(column));
    }
  }
  if (!o.prediction_column.empty() && !prediction) {
    reference.column(o.prediction_column, "--prediction-column");
    throw InvalidArgument("--prediction-column " + o.prediction_column + " is also in --ignore");
  }
  if (columns.empty()) throw InvalidArgument(reference.file() + ": no feature columns to compare");
  if (reference.rows() == 0) throw InvalidArgument(reference.file() + ": no data rows");

  std::vector<FeatureSpec> specs;
  for (const auto& c : columns) {
    specs.push_back({.name = c.name,
                     .kind = c.categorical ? FeatureKind::kCategorical : FeatureKind::kNumeric});
  }
  ReferenceProfileBuilder::Options build_options;
  // Keep every reference value, so the statistics are Evidently's batch numbers on these files.
  build_options.sample_capacity = std::max<std::size_t>(build_options.sample_capacity, reference.rows());
  build_options.with_prediction = prediction.has_value();
  if (prediction && prediction->categorical) {
    build_options.prediction_spec.kind = FeatureKind::kCategorical;
  }
  ReferenceProfileBuilder builder(specs, build_options);
  std::vector<double> row(columns.size());
  for (std::size_t r = 0; r < reference.rows(); ++r) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      row[i] = columns[i].value(reference, r, columns[i].reference_index);
    }
    if (prediction) {
      builder.add_row(row, prediction->value(reference, r, prediction->reference_index));
    } else {
      builder.add_row(row);
    }
  }
  const ReferenceProfile profile = builder.build();
  CurrentWindow window = CurrentWindow::for_profile(profile);
  for (std::size_t r = 0; r < current.rows(); ++r) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      row[i] = columns[i].value(current, r, columns[i].current_index);
    }
    window.add_row(profile, row,
                   prediction ? prediction->value(current, r, prediction->current_index) : 0.0);
  }
  const DriftReport report = evaluate_drift(profile, window, options);
  json doc = json::parse(report.to_json());
  doc["reference"] = {{"file", reference.file()}, {"rows", reference.rows()}};
  doc["current"] = {{"file", current.file()}, {"rows", current.rows()}};
  CommandResult result{doc, "Reference " + reference.file() + " (" +
                                std::to_string(reference.rows()) + " rows) against " +
                                current.file() + " (" + std::to_string(current.rows()) +
                                " rows)\n" + report.to_table()};
  if (o.fail_on_drift && report.dataset_drift) {
    throw ReportedError(ErrorCode::kValidationFailed,
                        "dataset drift: " + std::to_string(report.features_drifted) + " of " +
                            std::to_string(report.features.size()) + " features drifted",
                        std::move(result));
  }
  return result;
}

}  // namespace

void add_analysis_commands(CLI::App& app, const GlobalOptions& global, CommandAction& action) {
  {
    auto* ab = app.add_subcommand("ab-test", "A/B tests between model versions");
    ab->require_subcommand(1);
    auto o = std::make_shared<AbTestOptions>();
    auto* c = ab->add_subcommand(
        "analyze",
        "Analyse an A/B test from a CSV of outcomes, one row per request: a variant column, and "
        "label + prediction (accuracy; with score, log loss), latency_ms, or outcome columns "
        "(0/1: a rate, otherwise a mean); an optional request_id");
    c->add_option("file", o->file, "CSV file of outcomes")->required();
    c->add_option("--variant-column", o->variant_column, "Column naming the variant")
        ->capture_default_str();
    c->add_option("--model-a,--control", o->control, "Control variant (default: the first seen)");
    c->add_option("--model-b,--treatment", o->treatment,
                  "Treatment variant: compare only the two (default: every variant)");
    c->add_option("--split", o->split,
                  "Percent of traffic on the control (seed 000's --split 50), for the "
                  "sample-ratio check; default: equal shares");
    c->add_option("--weight", o->weights, "Configured weight VARIANT=NUMBER, repeatable");
    c->add_option("--primary", o->primary,
                  "Primary metric (default: accuracy with labels, else the first outcome column)");
    c->add_option("--guardrail", o->guardrails,
                  "Guardrail metric, repeatable (default: every other metric)");
    c->add_option("--lower-is-better", o->lower_is_better,
                  "An outcome metric that should go down (latency and log loss already do)");
    c->add_flag("--sequential", o->sequential,
                "Always-valid sequential test (peeking is safe) instead of fixed horizon");
    c->add_option("--confidence", o->confidence, "Confidence level")->capture_default_str();
    c->add_option("--mde", o->mde, "Relative minimum detectable effect, for power")
        ->capture_default_str();
    on_parse(c, global, action, o, run_ab_test);
  }
  {
    auto* drift = app.add_subcommand("drift", "Data drift between a reference and current data");
    drift->require_subcommand(1);
    auto o = std::make_shared<DriftCliOptions>();
    auto* c = drift->add_subcommand(
        "report",
        "Compare a current CSV with a reference CSV, column by column, with Evidently's tests "
        "and defaults (numeric columns; a column with text is categorical)");
    c->add_option("reference", o->reference, "Reference CSV (e.g. the training data)")
        ->required();
    c->add_option("current", o->current, "Current CSV (e.g. last day's requests)")->required();
    c->add_option("--prediction-column", o->prediction_column,
                  "Column holding the model's prediction (prediction drift)");
    c->add_option("--categorical", o->categorical, "Treat a numeric column as categories");
    c->add_option("--ignore", o->ignore, "Leave a column out (ids, timestamps), repeatable");
    c->add_option("--test", o->test,
                  "auto (Evidently's choice), psi, kl_div, jensenshannon, wasserstein, ks, "
                  "chisquare or z")
        ->capture_default_str();
    c->add_option("--threshold", o->threshold, "Threshold of the test (default: its own)");
    c->add_option("--correction", o->correction, "none, bonferroni or fdr_bh")
        ->capture_default_str();
    c->add_option("--drift-share", o->drift_share,
                  "Dataset drift when at least this share of columns drifted")
        ->capture_default_str();
    c->add_flag("--seed-003", o->seed_003,
                "Seed 003's monitoring rule: PSI >= 0.2 per feature, prediction KL >= 0.1");
    c->add_flag("--all-statistics", o->all_statistics, "Compute every statistic that applies");
    c->add_flag("--fail-on-drift", o->fail_on_drift, "Exit 3 when the dataset drifted");
    on_parse(c, global, action, o, run_drift_report);
  }
}

}  // namespace switchyard::cli
