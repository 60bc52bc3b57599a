"""Cleaning of tweet text: the one function that training, evaluation and prediction all use."""

from __future__ import annotations

import hashlib
import html
import re

import ftfy

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_SPACE = re.compile(r"\s+")


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
