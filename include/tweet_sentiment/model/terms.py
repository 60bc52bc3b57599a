"""The terms a team's correction can be about ("sanitizer", "stay home"), and the model's columns that carry them.

A systematic correction the label check finds is about a term: a word, or a phrase of two neighbouring words
(:func:`terms_of`). The hashed words carry neither a phrase ("stay" and "home" are each in most tweets) nor one
word in all its forms ("sanitizers", "#HandSanitizer"). So the feature schema keeps ``term_slots`` columns for the
terms of the corrections the loop knows of: column ``i`` is 1 where a text holds the schema's ``i``-th term. A
term keeps its slot in every continuation of a model (a continuation only fills empty slots), so boosting can go
on: the champion's trees never split on a slot that was empty while they grew. A refit assigns the slots anew,
the most recently found terms first.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse

from tweet_sentiment.schema import FeatureSchema
from tweet_sentiment.text import hashtags_as_words

_WORD = re.compile(r"[a-z][a-z']{2,}")


def _tokens(text: str) -> list[str]:
    """The text's words of 3+ letters in order: hashtags split into words (#HandSanitizer: hand, sanitizer), lower
    case, a plural folded into its singular (sanitizers: sanitizer)."""
    words = _WORD.findall(hashtags_as_words(text).lower())
    return [w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def terms_of(text: str) -> set[str]:
    """The terms a correction can be about: the text's words (see :func:`_tokens`) and its phrases, each pair of
    neighbouring words ("stay home"; shorter words such as "at" are skipped, so "staying at home" gives "staying
    home", and #StayHome gives "stay home")."""
    tokens = _tokens(text)
    return {*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens))}


def term_columns(texts: Sequence[str], terms: Sequence[str], slots: int) -> sparse.csr_matrix:
    """``(len(texts), slots)`` 0/1 columns: column ``i`` is 1 where the text holds ``terms[i]`` (:func:`terms_of`);
    empty slots stay 0. A text is only split into terms when it holds each word of some term as written (every
    term's word is a piece of the lower-cased text), so a refit's million rows cost a substring test each."""
    rows, cols = [], []
    if terms:
        pieces = [(i, term, term.split(" ")) for i, term in enumerate(terms[:slots])]
        for row, text in enumerate(texts):
            lower = text.lower()
            candidates = [(i, term) for i, term, words in pieces if all(w in lower for w in words)]
            if candidates:
                held = terms_of(text)
                found = [i for i, term in candidates if term in held]
                rows.extend([row] * len(found))
                cols.extend(found)
    values = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), slots), dtype=np.float32)


def with_terms(schema: FeatureSchema, terms: Iterable[str]) -> FeatureSchema:
    """``schema`` holding ``terms`` in its empty slots, in order (terms it holds keep their slots; once the slots
    are full, the rest wait for a refit)."""
    held = list(schema.terms)
    for term in terms:
        if len(held) >= schema.term_slots:
            break
        if term not in held:
            held.append(term)
    return dataclasses.replace(schema, terms=tuple(held))


def newest_first(corrections: Sequence[Mapping], ages: Mapping[str, int]) -> list[str]:
    """The terms of ``corrections`` (records with ``word`` and ``found_in``: label_check.known_corrections), the
    most recently found first (``ages``: a batch's age, 0 the newest; a batch the store no longer holds last)."""
    order = sorted(corrections, key=lambda c: (ages.get(str(c.get("found_in")), len(ages)), str(c["word"])))
    return list(dict.fromkeys(str(c["word"]) for c in order))
