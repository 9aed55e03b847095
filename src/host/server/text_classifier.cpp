// SPDX-License-Identifier: Apache-2.0
// Hashed bag-of-words features, the training-set reader and logistic-regression training.
#include "text_classifier.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <switchyard/core/error.hpp>
#include <switchyard/serving/bucketing.hpp>

namespace switchyard::server {
namespace {

// Salts of the word and word-pair hashes (arbitrary, fixed: a model's weights depend on them).
constexpr std::uint64_t kWordSeed = 0x5377697463687961ULL;
constexpr std::uint64_t kPairSalt = 0x7264536172644261ULL;
constexpr std::size_t kMaxWordBytes = 64;

bool is_word_byte(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'';
}

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\r' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Row-major batch x features matrix of `examples` and their 0/1 labels.
void featurize_all(const TextFeaturizer& f, std::span<const LabelledText> examples,
                   Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& x,
                   Eigen::VectorXd& y) {
  const auto n = static_cast<Eigen::Index>(examples.size());
  x.setZero(n, static_cast<Eigen::Index>(f.buckets()));
  y.resize(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto& e = examples[static_cast<std::size_t>(i)];
    f.featurize(e.text, std::span<double>(x.row(i).data(), f.buckets()));
    y(i) = e.positive ? 1.0 : 0.0;
  }
}

double training_accuracy(const TextFeaturizer& f, const LogisticModel& model,
                         std::span<const LabelledText> examples) {
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> x;
  Eigen::VectorXd y;
  featurize_all(f, examples, x, y);
  const Prediction p = model.predict(TensorView(
      x.data(), {static_cast<std::int64_t>(x.rows()), static_cast<std::int64_t>(x.cols())}));
  std::size_t correct = 0;
  for (std::size_t i = 0; i < p.labels.size(); ++i) {
    correct += (p.labels[i] == 1) == examples[i].positive ? 1 : 0;
  }
  return examples.empty() ? 0.0
                          : static_cast<double>(correct) / static_cast<double>(examples.size());
}

}  // namespace

TextFeaturizer::TextFeaturizer(std::size_t buckets) : buckets_(buckets) {
  if (buckets == 0) throw InvalidArgument("TextFeaturizer: buckets must be at least 1");
}

template <class Add>
void TextFeaturizer::hash_words(std::string_view text, Add&& add) const noexcept {
  std::array<char, kMaxWordBytes> word{};
  std::uint64_t previous = 0;
  bool has_previous = false;
  // The top bit picks the sign, so colliding features cancel on average instead of adding up.
  auto emit = [&](std::uint64_t h) {
    add(static_cast<std::uint32_t>(h % buckets_), (h >> 63) != 0 ? -1.0 : 1.0);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(text[i])) ++i;
    std::size_t len = 0;
    while (i < text.size() && is_word_byte(text[i])) {
      if (len < word.size()) word[len++] = lower(text[i]);
      ++i;
    }
    if (len == 0) break;
    const std::string_view w(word.data(), len);
    const std::uint64_t h = bucketing::xxh64(w, kWordSeed);
    emit(h);
    if (has_previous) emit(bucketing::xxh64(w, previous ^ kPairSalt));
    previous = h;
    has_previous = true;
  }
}

void TextFeaturizer::featurize(std::string_view text, std::span<double> out) const noexcept {
  std::fill(out.begin(), out.end(), 0.0);
  if (out.size() < buckets_) return;
  hash_words(text, [&](std::uint32_t bucket, double sign) { out[bucket] += sign; });
  double norm = 0.0;
  for (std::size_t k = 0; k < buckets_; ++k) norm += out[k] * out[k];
  if (norm > 0.0) {
    const double scale = 1.0 / std::sqrt(norm);
    for (std::size_t k = 0; k < buckets_; ++k) out[k] *= scale;
  }
}

void TextFeaturizer::featurize(std::string_view text, FeatureRow& row) const {
  if (row.values.size() != buckets_) {
    row.values.assign(buckets_, 0.0);
    row.touched.clear();
  }
  for (std::uint32_t k : row.touched) row.values[k] = 0.0;
  row.touched.clear();
  hash_words(text, [&](std::uint32_t bucket, double sign) {
    row.values[bucket] += sign;
    row.touched.push_back(bucket);
  });
  std::sort(row.touched.begin(), row.touched.end());
  row.touched.erase(std::unique(row.touched.begin(), row.touched.end()), row.touched.end());
  double norm = 0.0;
  for (std::uint32_t k : row.touched) norm += row.values[k] * row.values[k];
  if (norm > 0.0) {
    const double scale = 1.0 / std::sqrt(norm);
    for (std::uint32_t k : row.touched) row.values[k] *= scale;
  }
}

std::vector<LabelledText> parse_training_set(std::string_view tsv) {
  std::vector<LabelledText> out;
  std::size_t line_no = 0;
  bool seen[2] = {false, false};
  while (!tsv.empty()) {
    const std::size_t end = tsv.find('\n');
    std::string_view line = tsv.substr(0, end);
    tsv.remove_prefix(end == std::string_view::npos ? tsv.size() : end + 1);
    ++line_no;
    if (trim(line).empty() || line.front() == '#') continue;
    const std::size_t tab = line.find('\t');
    const std::string_view label = tab == std::string_view::npos ? line : line.substr(0, tab);
    const std::string_view text = tab == std::string_view::npos ? "" : trim(line.substr(tab + 1));
    if ((label != "positive" && label != "negative") || text.empty()) {
      throw InvalidArgument("training set line " + std::to_string(line_no) +
                            ": expected 'positive' or 'negative', a tab and a sentence");
    }
    const bool positive = label == "positive";
    seen[positive ? 1 : 0] = true;
    out.push_back({positive, std::string(text)});
  }
  if (!seen[0] || !seen[1]) {
    throw InvalidArgument("training set: needs both positive and negative sentences");
  }
  return out;
}

LogisticModel train_sentiment_model(const TextFeaturizer& featurizer,
                                    std::span<const LabelledText> examples,
                                    const TrainingOptions& options) {
  if (examples.empty()) throw InvalidArgument("train_sentiment_model: no examples");
  // A sentence sets a dozen of the 4,096 buckets: train on its non-zero features only.
  struct SparseRow {
    std::vector<std::pair<std::uint32_t, double>> features;
    double label = 0.0;
  };
  std::vector<SparseRow> rows;
  FeatureRow row;
  for (const auto& e : examples) {
    featurizer.featurize(e.text, row);
    SparseRow r;
    r.label = e.positive ? 1.0 : 0.0;
    for (std::uint32_t k : row.touched) r.features.emplace_back(k, row.values[k]);
    rows.push_back(std::move(r));
  }
  const double n = static_cast<double>(examples.size());
  Eigen::VectorXd w = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(featurizer.buckets()));
  Eigen::VectorXd grad(w.size());
  double b = 0.0;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    grad = options.l2 * w;
    double grad_b = 0.0;
    for (const auto& r : rows) {
      double z = b;
      for (const auto& [k, v] : r.features) z += w(k) * v;
      const double residual = 1.0 / (1.0 + std::exp(-z)) - r.label;
      for (const auto& [k, v] : r.features) grad(k) += residual * v / n;
      grad_b += residual / n;
    }
    w -= options.learning_rate * grad;
    b -= options.learning_rate * grad_b;
  }
  return LogisticModel(w, b, {"negative", "positive"});
}

SentimentModels train_sentiment_models(const TextFeaturizer& featurizer,
                                       std::span<const LabelledText> examples) {
  SentimentModels out;
  const auto half = examples.first((examples.size() + 1) / 2);
  const LogisticModel small = train_sentiment_model(featurizer, half);
  const LogisticModel full = train_sentiment_model(featurizer, examples);
  out.small_artifact = small.to_artifact();
  out.full_artifact = full.to_artifact();
  out.small_training_accuracy = training_accuracy(featurizer, small, examples);
  out.full_training_accuracy = training_accuracy(featurizer, full, examples);
  return out;
}

}  // namespace switchyard::server
