"""Sticky experiment assignment, following GrowthBook's SDK specification (spec version 0.8.0).

Pure: no Django, no I/O. Any GrowthBook SDK given the same seed, user id, weights, coverage, namespace
and hash version puts the user in the same variation, which the SDKs' shared test cases
(``../shared/datasets/growthbook/cases.json``) check.

The order is GrowthBook's: namespace first (hash version 1 with seed ``"__" + namespace id``), then the
user's bucket ``n = hash(seed, user_id, version)``, then the bucket ranges. A variation's range starts at
the cumulative weight of the variations before it and spans ``coverage * weight``, so raising coverage
only widens ranges: a user already in keeps the variation. Changing weights moves range starts, which
is why the platform starts a new phase with a new seed when weights change.
"""

from __future__ import annotations

import builtins
import sys
from array import array
from dataclasses import dataclass

FNV32_OFFSET_BASIS = 0x811C9DC5
FNV32_PRIME = 0x01000193
UINT32_MASK = 0xFFFFFFFF
UTF16_NATIVE = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"

Range = tuple[float, float]
Namespace = tuple[str, float, float]


def fnv1a32(text: str) -> int:
    """The 32-bit FNV-1a hash of ``text`` as an unsigned integer.

    ``h = 2166136261``; for each UTF-16 code unit ``c``: ``h = ((h XOR c) * 16777619) mod 2**32``.
    UTF-16 code units are what the reference JavaScript SDK hashes (``charCodeAt``); the Python SDK
    hashes code points, which agree with them for every character of the Basic Multilingual Plane.
    """
    value = FNV32_OFFSET_BASIS
    for unit in utf16_code_units(text):
        value = ((value ^ unit) * FNV32_PRIME) & UINT32_MASK
    return value


def utf16_code_units(text: str) -> bytes | array[int]:
    """The UTF-16 code units of ``text``; ASCII text's bytes are its code units (the fast path)."""
    if text.isascii():
        return text.encode("ascii")
    return array("H", text.encode(UTF16_NATIVE, "surrogatepass"))


def hash(seed: str, value: str, version: int) -> float | None:  # shadows the builtin: GrowthBook's name
    """A deterministic float in [0, 1) for ``value`` under ``seed``; None for an unknown ``version``.

    - version 2: ``(fnv1a32(str(fnv1a32(seed + value))) mod 10000) / 10000``, unbiased;
    - version 1: ``(fnv1a32(value + seed) mod 1000) / 1000``, the original, kept for namespaces.
    """
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def get_equal_weights(n: int) -> list[float]:
    """``n`` weights of ``1 / n`` each; an empty list when ``n < 1``."""
    if n < 1:
        return []
    return [1 / n] * n


def get_bucket_ranges(
    num_variations: int, coverage: float = 1, weights: list[float] | None = None
) -> list[Range]:
    """One ``[start, end)`` range per variation.

    ``start_i = w_0 + ... + w_(i-1)`` and ``end_i = start_i + coverage * w_i``. As the SDK does,
    coverage is clamped to [0, 1], and the weights fall back to equal weights when they are missing,
    when their count differs from ``num_variations`` or when their sum is outside [0.99, 1.01].
    """
    coverage = min(max(coverage, 0), 1)
    if weights is None or len(weights) != num_variations or not 0.99 <= sum(weights) <= 1.01:
        weights = get_equal_weights(num_variations)
    ranges: list[Range] = []
    cumulative = 0.0
    for weight in weights:
        ranges.append((cumulative, cumulative + coverage * weight))
        cumulative += weight
    return ranges


def in_range(n: float, bucket_range: Range) -> bool:
    """Whether ``start <= n < end``: ranges are half-open, so an empty range holds no one."""
    return bucket_range[0] <= n < bucket_range[1]


def choose_variation(n: float, ranges: list[Range]) -> int:
    """The index of the first range holding bucket ``n``, or -1 when no range holds it."""
    for index, bucket_range in enumerate(ranges):
        if in_range(n, bucket_range):
            return index
    return -1


def in_namespace(user_id: str, namespace: Namespace) -> bool:
    """Whether ``start <= hash("__" + id, user_id, 1) < end`` for ``namespace = (id, start, end)``.

    Experiments whose ranges in one namespace do not overlap never share a user.
    """
    namespace_id, start, end = namespace
    n = hash("__" + namespace_id, user_id, 1)
    return n is not None and start <= n < end


@dataclass(frozen=True)
class Assignment:
    """Where a user falls in one experiment.

    ``variation`` is the variation's index (0 is control) or -1 outside the experiment; ``bucket`` is
    the user's hash under the experiment's seed, or 0.0 when the user was excluded before hashing.
    """

    variation: int
    bucket: float
    in_experiment: bool

    # This module's `hash` (GrowthBook's name) would shadow the builtin in a generated __hash__.
    def __hash__(self) -> int:
        return builtins.hash((self.variation, self.bucket, self.in_experiment))


OUTSIDE = Assignment(variation=-1, bucket=0.0, in_experiment=False)


def assign(
    *,
    seed: str,
    user_id: str,
    weights: list[float],
    coverage: float,
    namespace: Namespace | None = None,
    hash_version: int = 2,
) -> Assignment:
    """Assign ``user_id`` to one of ``len(weights)`` variations, as GrowthBook's ``run`` does.

    A user is outside when the id is empty, there are fewer than two variations, the namespace
    excludes the user, the hash version is unknown, or the bucket ``n = hash(seed, user_id,
    hash_version)`` falls in no range of ``get_bucket_ranges(len(weights), coverage, weights)``.
    Weights are not validated here (the SDK silently falls back to equal weights); services do that.
    """
    if not user_id or len(weights) < 2 or (namespace is not None and not in_namespace(user_id, namespace)):
        return OUTSIDE
    n = hash(seed, user_id, hash_version)
    if n is None:
        return OUTSIDE
    variation = choose_variation(n, get_bucket_ranges(len(weights), coverage, weights))
    return Assignment(variation=variation, bucket=n, in_experiment=variation >= 0)


def targeting_matches(targeting: dict, metadata: dict[str, str]) -> bool:
    """Every targeted metadata key must carry one of its allowed values; no targeting means everyone."""
    for key, allowed in targeting.items():
        values = allowed if isinstance(allowed, list | tuple) else [allowed]
        if metadata.get(key) not in {str(value) for value in values}:
            return False
    return True
