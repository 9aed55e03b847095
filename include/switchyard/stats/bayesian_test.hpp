// SPDX-License-Identifier: Apache-2.0
// The Bayesian comparison: posterior of the effect, chance to beat control, risk, credible
// interval.
#pragma once

#include <cmath>
#include <string>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard::stats {

/// A Gaussian prior on the effect. proper = false (the default) is the flat prior: the posterior
/// is then the sampling distribution of the estimate.
struct GaussianPrior {
  double mean = 0.0;
  double variance = 1.0;
  bool proper = false;
};

/// Options of the Bayesian comparison (GrowthBook's EffectBayesianConfig).
struct BayesianOptions {
  double credibility = 0.95;  ///< mass of the credible interval (1 - alpha)
  GaussianPrior prior;        ///< prior on the effect, expressed on prior_scale
  EffectScale prior_scale = EffectScale::kRelative;
  /// For metrics where lower is better: chance to win is the probability the effect is negative,
  /// and the two risks swap.
  bool inverse = false;
};

/// The posterior of the effect and the decision quantities derived from it. When status is not
/// kOk: chance_to_win = 0.5, expected = 0, credible_interval = (-inf, +inf), risks 0.
/// Thread-safe: a value type.
struct BayesianResult {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  EffectScale scale = EffectScale::kRelative;
  double expected = 0.0;       ///< posterior mean of the effect
  double std_dev = 0.0;        ///< posterior standard deviation
  double chance_to_win = 0.5;  ///< P(effect > 0) (P(effect < 0) when inverse)
  Interval credible_interval;  ///< equal-tailed, `credibility` mass
  double credibility = 0.95;
  double risk_control = 0.0;    ///< expected loss of shipping control: E[max(effect, 0)]
  double risk_treatment = 0.0;  ///< expected loss of shipping treatment: E[max(-effect, 0)]

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

namespace detail {

/// E[max(X, 0)] and E[max(-X, 0)] for X ~ N(mu, sigma^2), accurate in both tails: the smaller one
/// is sigma * Q(z) * (lambda(z) - z) with the inverse Mills ratio lambda = phi / Q.
inline void normal_partial_expectations(double mu, double sigma, double& positive,
                                        double& negative) {
  if (std::fabs(mu / sigma) > 37.0) {  // GrowthBook's analytic limit: the other tail is 0 in double
    positive = std::max(mu, 0.0);
    negative = std::max(-mu, 0.0);
    return;
  }
  const double z = mu / sigma;
  // negative part: E[max(-X,0)] = sigma (phi(z) - z Q(z)), Q(z) = P(N(0,1) > z)
  auto small_tail = [](double zz) {
    const double q = normal_sf(zz);
    if (q == 0.0) return 0.0;
    const double lambda = normal_pdf(zz) / q;
    return q * (lambda - zz);
  };
  negative = sigma * small_tail(z);
  positive = sigma * small_tail(-z);
}

}  // namespace detail

/// Bayesian comparison of an effect's moments with a Gaussian prior (conjugate normal update).
///
/// Reference: GrowthBook gbstats 0.8.0 EffectBayesianABTest: chanceToWin, expected, ci, risk
/// (risk_control = risk[0], risk_treatment = risk[1]), 1e-10 relative for |estimate / std_error|
/// up to 8 and 1e-6 beyond (where gbstats' truncated-normal means lose digits). One deliberate
/// difference: a prior given on the absolute scale is converted to a relative effect here
/// (divided by the control mean); gbstats 0.8.0 skips that conversion.
/// Degenerate input: moments not ok -> that status. Throws InvalidArgument unless 0 < credibility
/// < 1 and a proper prior has a positive finite variance.
inline BayesianResult bayesian_test(const EffectMoments& moments,
                                    const BayesianOptions& options = {}) {
  detail::require_open_unit(options.credibility, "credibility");
  if (options.prior.proper &&
      (!(options.prior.variance > 0.0) || !std::isfinite(options.prior.variance) ||
       !std::isfinite(options.prior.mean))) {
    throw InvalidArgument(
        "bayesian_test: a proper prior needs a finite mean and a positive variance");
  }
  BayesianResult r;
  r.credibility = options.credibility;
  r.scale = moments.scale;
  std::string why;
  if (const StatStatus st = detail::usable(moments, why); st != StatStatus::kOk) {
    r.status = st;
    r.reason = std::move(why);
    return r;
  }
  GaussianPrior prior = options.prior;
  if (prior.proper && options.prior_scale != moments.scale) {
    const double m = std::fabs(moments.control_mean);
    if (m == 0.0) {
      r.status = StatStatus::kInvalidInput;
      r.reason = "control mean is 0; the prior cannot change scale";
      return r;
    }
    if (moments.scale == EffectScale::kAbsolute) {  // relative prior -> absolute effect
      prior.mean *= m;
      prior.variance *= m * m;
    } else {  // absolute prior -> relative effect
      prior.mean /= m;
      prior.variance /= m * m;
    }
  }
  const double data_var = moments.std_error * moments.std_error;
  double precision = 1.0 / data_var;
  double mean = moments.estimate;
  if (prior.proper) {
    precision += 1.0 / prior.variance;
    mean = (moments.estimate / data_var + prior.mean / prior.variance) / precision;
  }
  const double sd = std::sqrt(1.0 / precision);
  r.status = StatStatus::kOk;
  r.expected = mean;
  r.std_dev = sd;
  const double p_pos = detail::normal_sf(-mean / sd);
  r.chance_to_win = options.inverse ? 1.0 - p_pos : p_pos;
  const double alpha = 1.0 - options.credibility;
  r.credible_interval = Interval{mean + sd * detail::normal_quantile(alpha / 2.0),
                                 mean + sd * detail::normal_quantile(1.0 - alpha / 2.0)};
  double pos = 0.0, neg = 0.0;
  detail::normal_partial_expectations(mean, sd, pos, neg);
  r.risk_control = options.inverse ? neg : pos;
  r.risk_treatment = options.inverse ? pos : neg;
  return r;
}

/// Convenience: the Bayesian comparison of treatment against control summaries.
inline BayesianResult bayesian_test(const SampleSummary& control, const SampleSummary& treatment,
                                    EffectScale scale = EffectScale::kRelative,
                                    const BayesianOptions& options = {}) {
  return bayesian_test(effect_moments(control, treatment, scale), options);
}

}  // namespace switchyard::stats
