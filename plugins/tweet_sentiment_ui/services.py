"""The plugin's backend objects of the configured data root, built once per API-server process on first use."""

from __future__ import annotations

import threading
from functools import cached_property

from tweet_sentiment.config import Settings
from tweet_sentiment.labelling.queue import LabellingQueue
from tweet_sentiment.model.prediction import Predictor
from tweet_sentiment.model.registry import ModelRegistry
from tweet_sentiment.pipeline.resources import infinity_client


class Services:
    """The registry, predictor and labelling queue of the configured data root, built on first use."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self.layout = self.settings.layout()
        self.registry = ModelRegistry.of(self.settings)

    @cached_property
    def predictor(self) -> Predictor:
        return Predictor(self.registry, infinity_client(self.settings), self.layout.embeddings,
                         self.settings.predict_max_texts, self.settings.max_text_chars)

    @cached_property
    def labelling(self) -> LabellingQueue:
        return LabellingQueue(self.layout, self.settings.state_db, self.predictor, self.settings.max_text_chars,
                              self.settings.annotator_names, self.settings.label_overlap_share)


_services: Services | None = None
_services_lock = threading.Lock()


def services() -> Services:
    """The process's one ``Services``."""
    global _services
    with _services_lock:
        if _services is None:
            _services = Services()
        return _services
