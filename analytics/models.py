"""Quality scores attached to calls: by scorers in workers, by users' feedback, by offline runs."""

from __future__ import annotations

from django.db import models


class Score(models.Model):
    class Status(models.TextChoices):
        SCORED = "scored"
        SKIPPED = "skipped"
        FAILED = "failed"

    class Source(models.TextChoices):
        ONLINE = "online", "scored by a worker after the call"
        FEEDBACK = "feedback", "sent by a user"

    call = models.ForeignKey("routing.Call", on_delete=models.CASCADE, related_name="scores")
    scorer = models.CharField(max_length=64)
    version = models.CharField(max_length=16)
    value = models.FloatField(null=True, blank=True, help_text="In [0, 1]; empty when it could not score.")
    raw = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    detail = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ONLINE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["call", "scorer", "version"], name="score_once_per_scorer_version")
        ]
        indexes = [models.Index(fields=["scorer", "created_at"], name="score_scorer_time")]

    def __str__(self) -> str:
        return f"{self.scorer}@{self.version}={self.value} on {self.call_id}"
