"""Datasets of recorded answers: prompts, the answers real models gave them and the quality of each answer."""

from __future__ import annotations

import hashlib

from django.db import models


def prompt_hash(prompt: str) -> str:
    """The sha256 hex digest of the prompt with runs of whitespace collapsed to one space and trimmed."""
    return hashlib.sha256(" ".join(prompt.split()).encode("utf-8")).hexdigest()


class Dataset(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    source = models.CharField("source path", max_length=500, blank=True)
    quality_scale = models.FloatField(
        default=1.0, help_text="The largest quality: 1 for correctness labels, 10 for judge scores."
    )
    model_names = models.JSONField(default=list, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quality_scale__gt=0), name="dataset_quality_scale_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DatasetItem(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    prompt = models.TextField()
    prompt_hash = models.CharField(max_length=64, help_text="sha256 of the whitespace-normalised prompt.")
    reference = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    excluded = models.BooleanField(
        default=False, help_text="Left out of reported figures (a prompt seen in router training)."
    )

    class Meta:
        ordering = ["dataset", "position"]
        indexes = [models.Index(fields=["dataset", "prompt_hash"], name="datasetitem_prompt_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "position"], name="datasetitem_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}#{self.position}"


class RecordedAnswer(models.Model):
    item = models.ForeignKey(DatasetItem, on_delete=models.CASCADE, related_name="answers")
    model_name = models.CharField(max_length=200)
    answer = models.TextField(blank=True)
    quality = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["item", "model_name"]
        constraints = [
            models.UniqueConstraint(fields=["item", "model_name"], name="recordedanswer_unique_per_model"),
        ]
        indexes = [models.Index(fields=["model_name", "item"], name="recordedanswer_model_lookup")]

    def __str__(self) -> str:
        return f"{self.model_name} on item {self.item_id}"
