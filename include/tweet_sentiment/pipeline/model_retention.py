"""Housekeeping of the model registry: a rejected challenger keeps its card and index row, and its model file is
dropped once ``rejected_model_retention_days`` have passed since its rejection (a task of the housekeeping DAG,
never a cycle step)."""

from __future__ import annotations

from tweet_sentiment.config import Settings
from tweet_sentiment.model.registry import ModelRegistry

DAY_S = 24 * 3600.0


def drop_rejected_models(settings: Settings) -> dict:
    """Drop the model files of challengers rejected longer ago than the retention; the versions dropped now."""
    days = settings.rejected_model_retention_days
    return {"dropped": ModelRegistry.of(settings).drop_rejected_models(days * DAY_S), "retention_days": days}
