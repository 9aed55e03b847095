// SPDX-License-Identifier: Apache-2.0
// The sentiment model switchyard-server serves: hashed bag of words into a LogisticModel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <vector>

namespace switchyard::server {

/// A dense feature row that TextFeaturizer::featurize() refills by touching only the buckets the
/// previous text set, so a request costs its words, not the row's width. Not thread-safe: one per
/// thread (the server keeps one thread_local).
struct FeatureRow {
  std::vector<double> values;          ///< buckets() values, zero but for `touched`
  std::vector<std::uint32_t> touched;  ///< non-zero buckets, ascending and unique
};

/// Turns a text into a fixed-width feature vector: lower-cased ASCII words and adjacent word
/// pairs ("not good"), each hashed (XXH64) into one of `buckets()` signed buckets, then scaled
/// to unit length. Every model the server trains or serves for text reads this layout, so any
/// version can answer any request: the model's input is "features" float64 [-1, buckets()].
///
/// Thread-safe: featurize() is const and touches no shared state.
class TextFeaturizer {
 public:
  static constexpr std::size_t kDefaultBuckets = 4096;
  /// Throws InvalidArgument when `buckets` is 0.
  explicit TextFeaturizer(std::size_t buckets = kDefaultBuckets);
  std::size_t buckets() const noexcept { return buckets_; }
  /// Overwrites `out` (which must hold buckets() values) with the features of `text`. Bytes
  /// outside [A-Za-z0-9'] separate words; no allocation for words up to 64 bytes.
  void featurize(std::string_view text, std::span<double> out) const noexcept;
  /// The same features into `row` (sized on first use); the result equals featurize()'s to the
  /// last bit or two of rounding.
  void featurize(std::string_view text, FeatureRow& row) const;

 private:
  // Calls add(bucket, +1 or -1) for each word and word pair of `text`.
  template <class Add>
  void hash_words(std::string_view text, Add&& add) const noexcept;

  std::size_t buckets_;
};

/// One labelled sentence of a training set. Thread-safety: a value type.
struct LabelledText {
  bool positive = false;
  std::string text;
};

/// Reads "positive<TAB>text" / "negative<TAB>text" lines; blank lines and lines starting with '#'
/// are skipped. Throws InvalidArgument naming the line number for any other line, and when the
/// set lacks one of the two labels.
std::vector<LabelledText> parse_training_set(std::string_view tsv);

/// The labelled sentences compiled into the server (data/sentiment/train.tsv of the source tree).
std::string_view embedded_training_set() noexcept;

/// How train_sentiment_model() fits the weights: full-batch gradient descent on the mean logistic
/// loss plus l2 / 2 * |w|^2, from zero weights, so a given set always gives the same model.
/// Thread-safety: a value type.
struct TrainingOptions {
  int epochs = 300;            ///< gradient steps over the whole set
  double learning_rate = 2.0;  ///< step size (features have unit length, so this is stable)
  double l2 = 1e-4;            ///< ridge penalty on the weights (not the bias)
};

/// A binary LogisticModel over `featurizer`'s features; label 1 ("positive") when the text is
/// positive; class names {"negative", "positive"}. Throws InvalidArgument for an empty set.
LogisticModel train_sentiment_model(const TextFeaturizer& featurizer,
                                    std::span<const LabelledText> examples,
                                    const TrainingOptions& options = {});

/// The two models the server registers for seed 002's versions (docs/server.md): `small` is
/// trained on the first half of the set (what a first release had), `full` on all of it.
/// Thread-safety: a value type.
struct SentimentModels {
  std::string small_artifact;  ///< "switchyard.linear" bytes
  std::string full_artifact;
  double small_training_accuracy = 0.0;  ///< on the whole set
  double full_training_accuracy = 0.0;
};

/// Trains both models on `examples` (see SentimentModels).
SentimentModels train_sentiment_models(const TextFeaturizer& featurizer,
                                       std::span<const LabelledText> examples);

}  // namespace switchyard::server
