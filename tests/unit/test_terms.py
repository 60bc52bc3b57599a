"""The columns that carry the terms of the team's corrections: where they are 1, which slot a term keeps, and the
model's features holding them after the hashed words."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tweet_sentiment.model.features import HASHED_WORDS, current_schema, features_of
from tweet_sentiment.model.terms import newest_first, term_columns, terms_of, with_terms

# words whose forms fold together (plurals, hashtags, case) or only share letters with a term
PIECES = ["sanitizer", "sanitizers", "Sanitizer", "#HandSanitizer", "#handsanitizer", "sanitiz", "hand", "stay",
          "home", "Stay", "HOME", "#StayHome", "#stayhome", "homes", "at", "staying", "is", "good", "news", "@x",
          "sanitizer's", "ss", "toilet", "paper", "#ToiletPaper", "papers", "-", ",", "!"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=8).map(" ".join), min_size=1, max_size=6),
       st.lists(st.sampled_from(["sanitizer", "stay home", "hand sanitizer", "home", "toilet paper", "paper",
                                 "staying home", "good news", "sanitiz"]), max_size=5, unique=True),
       st.integers(min_value=0, max_value=6))
def test_a_term_column_is_one_exactly_where_the_text_holds_the_term(texts, terms, slots):
    columns = term_columns(texts, terms, slots).toarray()
    assert columns.shape == (len(texts), slots)
    expected = np.zeros((len(texts), slots), dtype=np.float32)
    for row, text in enumerate(texts):
        for i, term in enumerate(terms[:slots]):
            expected[row, i] = term in terms_of(text)
    assert np.array_equal(columns, expected)  # the substring pre-test never loses a row; empty slots stay 0


def test_a_phrase_and_the_forms_of_a_word_share_one_column():
    texts = ["#StayHome and stay safe", "I stay at home", "home stay", "#HandSanitizers sold out", "sanitiser"]
    columns = term_columns(texts, ["stay home", "sanitizer"], 3).toarray()
    assert columns.tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_a_term_keeps_its_slot_and_new_terms_fill_only_the_empty_ones():
    schema = dataclasses.replace(current_schema("m", 8), term_slots=3)
    first = with_terms(schema, ["sanitizer"])
    second = with_terms(first, ["stay home", "sanitizer", "toilet paper", "mask"])
    assert first.terms == ("sanitizer",)
    assert second.terms == ("sanitizer", "stay home", "toilet paper")  # full: "mask" waits for a refit
    assert with_terms(second, ["mask"]) == second and second.design() == schema.design()
    assert with_terms(current_schema("m", 8), []) == current_schema("m", 8)


def test_the_most_recently_found_terms_come_first():
    corrections = [{"word": "old", "found_in": "b01"}, {"word": "new", "found_in": "b09"},
                   {"word": "gone", "found_in": "b00"}, {"word": "also new", "found_in": "b09"}]
    ages = {"b09": 0, "b05": 1, "b01": 2}  # b00 is no longer held
    assert newest_first(corrections, ages) == ["also new", "new", "old", "gone"]


def test_the_models_features_end_with_the_term_slots_after_the_hashed_words():
    schema = with_terms(dataclasses.replace(current_schema("m", 4), embedding_components=0), ["stay home"])
    texts = ["#StayHome please", "home, then stay"]
    features = features_of(texts, schema, np.ones((2, 4), np.float32),
                           np.zeros((2, len(schema.lexicon_features)), np.float32)).toarray()
    assert features.shape == (2, schema.width)
    slots = features[:, -schema.term_slots:]
    assert slots[:, 0].tolist() == [1, 0] and not slots[:, 1:].any()
    words = features[:, 4 + len(schema.lexicon_features):-schema.term_slots]
    assert words.shape[1] == HASHED_WORDS and words[0].sum() == 3  # stay, home, please
