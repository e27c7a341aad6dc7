"""Sufficient statistics: what SQL rolls up per variant and metric, and all the engine ever reads.

Sample mean over values x_1..x_n, kept as n, S = sum x_i, Q = sum x_i^2:

    mean     = S / n
    variance = (Q - S^2 / n) / (n - 1)            (sample variance, clamped at 0 against rounding)

Proportion over n trials with k successes (error rate, fallback rate):

    rate = p = k / n,    variance = p (1 - p)      (per-unit Bernoulli variance, as GrowthBook's gbstats)

Ratio metric over per-unit pairs (m_i, d_i), e.g. cost and tokens of a call, or cost and a 0/1 success:
numerator and denominator sums, sums of squares and the cross sum C = sum m_i d_i.

    ratio R  = (sum m) / (sum d) = mean_m / mean_d
    cov(m,d) = (C - (sum m)(sum d) / n) / (n - 1)
    variance = var_m / mean_d^2 + mean_m^2 var_d / mean_d^4 - 2 mean_m cov / mean_d^3

The last line is the delta method per unit, so `variance / n` is the variance of R, the same contract
as the other two statistics: every statistic exposes n, mean and a per-unit variance.

Statistics of disjoint samples merge by adding every field (`a + b`, or `sum(rollups)`), so daily
roll-ups add up to the whole experiment. Quantities that are undefined (the mean of nothing, the
variance of fewer than two values, a ratio over a zero denominator) are nan rather than errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Self

NAN = float("nan")


def _divide(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else NAN


def _non_negative(value: float) -> float:
    """Clamps rounding noise below zero, keeping nan (undefined) as nan."""
    return 0.0 if value < 0 else value


def _centred(n: int, sum_x: float, sum_y: float, sum_xy: float) -> float:
    """(sum xy - sum x sum y / n) / (n - 1): a sample variance or covariance from sums."""
    if n < 2:
        return NAN
    return (sum_xy - sum_x * sum_y / n) / (n - 1)


class _Mergeable:
    """Adds field by field; `sum()` works because 0 + statistic is the statistic."""

    def merge(self, other: Self) -> Self:
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(self).__name__} with {type(other).__name__}")
        values = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        return type(self)(**values)

    def __add__(self, other: Self) -> Self:
        return self.merge(other)

    def __radd__(self, other: object) -> Self:
        if other == 0:
            return self
        return NotImplemented


@dataclass(frozen=True)
class SampleMean(_Mergeable):
    """A mean metric (quality score, cost per call, latency): n, sum and sum of squares."""

    n: int = 0
    sum: float = 0.0
    sum_squares: float = 0.0

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must not be negative")

    @classmethod
    def from_values(cls, values: Iterable[float]) -> SampleMean:
        xs = [float(x) for x in values]
        return cls(n=len(xs), sum=math.fsum(xs), sum_squares=math.fsum(x * x for x in xs))

    @property
    def mean(self) -> float:
        return _divide(self.sum, self.n)

    @property
    def variance(self) -> float:
        return _non_negative(_centred(self.n, self.sum, self.sum, self.sum_squares))

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)


@dataclass(frozen=True)
class Proportion(_Mergeable):
    """A rate metric (error rate, fallback rate): n trials, of which `successes` count."""

    n: int = 0
    successes: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.successes <= self.n:
            raise ValueError("successes must lie between 0 and n")

    @classmethod
    def from_values(cls, values: Iterable[bool | int]) -> Proportion:
        flags = [bool(v) for v in values]
        return cls(n=len(flags), successes=sum(flags))

    @property
    def rate(self) -> float:
        return _divide(self.successes, self.n)

    @property
    def mean(self) -> float:
        return self.rate

    @property
    def variance(self) -> float:
        return self.rate * (1 - self.rate)

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)


@dataclass(frozen=True)
class RatioStat(_Mergeable):
    """A ratio of two per-unit sums (cost per token, cost per successful call), with cross products."""

    n: int = 0
    numerator_sum: float = 0.0
    numerator_sum_squares: float = 0.0
    denominator_sum: float = 0.0
    denominator_sum_squares: float = 0.0
    cross_sum: float = 0.0

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must not be negative")

    @classmethod
    def from_values(cls, pairs: Iterable[tuple[float, float]]) -> RatioStat:
        ms, ds = [], []
        for m, d in pairs:
            ms.append(float(m))
            ds.append(float(d))
        return cls(
            n=len(ms),
            numerator_sum=math.fsum(ms),
            numerator_sum_squares=math.fsum(m * m for m in ms),
            denominator_sum=math.fsum(ds),
            denominator_sum_squares=math.fsum(d * d for d in ds),
            cross_sum=math.fsum(m * d for m, d in zip(ms, ds, strict=True)),
        )

    @property
    def numerator(self) -> SampleMean:
        return SampleMean(self.n, self.numerator_sum, self.numerator_sum_squares)

    @property
    def denominator(self) -> SampleMean:
        return SampleMean(self.n, self.denominator_sum, self.denominator_sum_squares)

    @property
    def covariance(self) -> float:
        return _centred(self.n, self.numerator_sum, self.denominator_sum, self.cross_sum)

    @property
    def mean(self) -> float:
        """The ratio of means, sum m / sum d."""
        return _divide(self.numerator_sum, self.denominator_sum)

    @property
    def variance(self) -> float:
        """Per-unit delta-method variance of the ratio (divide by n for the variance of the ratio)."""
        mean_m, mean_d = self.numerator.mean, self.denominator.mean
        if not mean_d:
            return NAN
        var_m, var_d = self.numerator.variance, self.denominator.variance
        value = var_m / mean_d**2 + mean_m**2 * var_d / mean_d**4 - 2 * mean_m * self.covariance / mean_d**3
        return _non_negative(value)

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)


Statistic = SampleMean | Proportion | RatioStat
