"""Cleaning of tweet text: the one function that training, evaluation and prediction all use."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence

import ftfy
import numpy as np

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_SPACE = re.compile(r"\s+")
HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def clean_tweet(raw: str) -> str:
    """Return the tweet without links, @mentions, HTML entities, mojibake and stray whitespace.

    Hashtags keep their words (they carry sentiment: ``#panicbuying``); case is kept (it is a cue).
    """
    text = ftfy.fix_text(raw, unescape_html=False)
    text = html.unescape(html.unescape(text))  # the data holds double-escaped entities such as &amp;amp;
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def text_hash(clean_text: str) -> str:
    """Stable identity of a cleaned text: the embedding-cache key and the duplicate check."""
    return hashlib.sha256(clean_text.encode("utf-8")).hexdigest()


def in_hash_slice(text_hashes: Sequence[str], fraction: float, salt: str = "") -> np.ndarray:
    """Which texts fall in a fixed ``fraction`` of all texts, chosen by hash: the same texts every time.

    Different ``salt`` values choose independent slices (the validation slice has none, the recent holdout one).
    """
    threshold = int(fraction * 10_000)
    keys = text_hashes if not salt else [hashlib.sha256(f"{salt}:{h}".encode()).hexdigest() for h in text_hashes]
    return np.array([int(k[:8], 16) % 10_000 < threshold for k in keys], dtype=bool)


def hashtags_as_words(text: str) -> str:
    """``text`` with each hashtag as its words (#StayHomeSaveLives: Stay Home Save Lives)."""
    return HASHTAG.sub(lambda m: _CAMEL.sub(" ", m.group(1)), text)
