"""A quality the provider itself recorded: the simulator's latent quality or a replayed dataset's label.

The value is `metadata["provider_quality"]`, already in [0, 1]; calls to real providers carry none and are
skipped. It is the ground truth the demo and the replays measure the other scorers against.
"""

from __future__ import annotations

import math

from analytics.scorers.base import Score, ScoreInput, Scorer


class RecordedQuality(Scorer):
    name = "recorded_quality"

    def evaluate(self, input: ScoreInput) -> Score:
        quality = input.metadata.get("provider_quality")
        if quality is None:
            return self.skipped("the provider recorded no quality")
        if isinstance(quality, bool) or not isinstance(quality, int | float) or math.isnan(quality):
            return self.failed(f"the recorded quality {quality!r} is not a number")
        if not 0.0 <= quality <= 1.0:
            return self.failed(f"the recorded quality {quality:g} is outside [0, 1]")
        return self.scored(quality, raw=float(quality))
