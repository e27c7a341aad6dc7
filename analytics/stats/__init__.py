"""The statistics engine: pure functions over sufficient statistics, no Django.

sufficient   SampleMean, Proportion, RatioStat: n, sums, sums of squares, cross sums; mergeable
effects      the absolute / relative (delta method) effect, its variance, EffectResult
frequentist  welch_test: Welch's t test with confidence interval
sequential   sequential_test: always-valid confidence sequence, safe to look at every day
bayes        bayesian_test, BayesianResult: posterior, credible interval, chance to win, risk; chance_to_win
srm          sample_ratio_mismatch: chi-square check of the traffic split
corrections  holm, benjamini_hochberg across metrics

Power and sample size for planning live with the planning, in `experiments.power`.
"""

from analytics.stats.bayes import BayesianResult, bayesian_test, chance_to_win
from analytics.stats.corrections import benjamini_hochberg, holm
from analytics.stats.effects import EffectResult
from analytics.stats.frequentist import welch_test
from analytics.stats.sequential import DEFAULT_TUNING, sequential_test
from analytics.stats.srm import SRM_THRESHOLD, SrmResult, sample_ratio_mismatch
from analytics.stats.sufficient import Proportion, RatioStat, SampleMean, Statistic

__all__ = [
    "DEFAULT_TUNING",
    "SRM_THRESHOLD",
    "BayesianResult",
    "EffectResult",
    "Proportion",
    "RatioStat",
    "SampleMean",
    "SrmResult",
    "Statistic",
    "bayesian_test",
    "benjamini_hochberg",
    "chance_to_win",
    "holm",
    "sample_ratio_mismatch",
    "sequential_test",
    "welch_test",
]
