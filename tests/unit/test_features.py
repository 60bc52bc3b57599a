"""Lexicon views, the embedding projection and the schema that guards against a silent feature mismatch."""

import dataclasses

import numpy as np
import pytest

from tweet_sentiment.model.features import (
    LEXICON_FEATURES,
    TERM_SLOTS,
    EmbeddingProjection,
    current_schema,
    hashed_words,
    lexicon_features,
)
from tweet_sentiment.schema import FeatureSchema


def test_plain_view_scores_without_hashtags_and_punctuation():
    names = ["vader_plain_compound", "vader_text_compound", "cue_exclamations"]
    shouted, tagged = lexicon_features(["Great news!!!", "Great news #panic"], names)
    assert shouted[0] == tagged[0] == pytest.approx(0.6249, abs=1e-3)  # both read as "Great news"
    assert shouted[1] > shouted[0]  # the exclamations amplify VADER on the text as written
    assert tagged[1] < tagged[0]  # and the hashtag's word counts there
    assert shouted[2] == 3.0


def test_unknown_lexicon_feature_is_refused():
    with pytest.raises(ValueError, match="unknown lexicon features"):
        lexicon_features(["x"], ["vader_nope_compound"])


def test_projection_round_trips_through_its_encoding():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(300, 24)).astype(np.float32) @ rng.normal(size=(24, 24)).astype(np.float32)
    projection = EmbeddingProjection.fit(embeddings, 4)
    decoded = EmbeddingProjection.decode(projection.encode())
    assert np.array_equal(projection.apply(embeddings), decoded.apply(embeddings))
    variances = projection.apply(embeddings).var(axis=0)
    assert (np.diff(variances) <= 1e-3 * variances[0]).all()  # principal axes, largest variance first


def test_schema_round_trip_and_design_ignores_the_fitted_projection_and_terms():
    design = current_schema("all-MiniLM-L6-v2", 384)
    fitted = dataclasses.replace(design, projection="abc", terms=("sanitizer", "stay home"))
    assert FeatureSchema.from_dict(fitted.to_dict()) == fitted
    assert fitted.design() == design and fitted != design
    assert fitted.width == (design.embedding_components + len(LEXICON_FEATURES) + design.hashed_words
                            + design.term_slots) and design.term_slots == TERM_SLOTS > 0


def test_hashed_words_are_a_fixed_space_whatever_the_words():
    first = hashed_words(["Panic buying at the store", "tested positive today"], 64)
    later = hashed_words(["a word never seen before: quarantinis"], 64)
    assert first.shape == (2, 64) and later.shape == (1, 64)
    assert first[0].sum() == 5 and set(np.unique(first.data)) == {1.0}  # five distinct words, present / absent
    same = hashed_words(["TESTED positive, today!"], 64)
    assert (same != first[1]).nnz == 0  # lower-cased, punctuation dropped
    pairs = hashed_words(["tested positive today"], 4096, ngrams=2)
    assert pairs.nnz == 5  # three words, two word pairs
    hashtag = hashed_words(["#StayHomeSaveLives"], 4096)
    assert (hashtag != hashed_words(["stay home save lives"], 4096)).nnz == 0


def test_a_card_from_older_code_has_another_design():
    old = FeatureSchema.from_dict({"embedding_model": "all-MiniLM-L6-v2", "embedding_dim": 384,
                                   "lexicon_features": ["vader_text_compound"]})
    assert old.embedding_components == 0 and old.width == 385 and old.term_slots == 0 and old.terms == ()
    assert old.design() != current_schema("all-MiniLM-L6-v2", 384)
