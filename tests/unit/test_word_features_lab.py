"""The word-feature measurement's pieces (lab/word_features.py): the frozen IDF and the feature matrix."""

from __future__ import annotations

import numpy as np

from lab.word_features import Features, Variant, _idf


def test_the_idf_is_frozen_where_it_was_fitted_and_scales_the_words():
    texts = ["sanitizer sold out", "sanitizer again", "lockdown today", "lockdown again"]
    lexicon = np.zeros((4, 2), dtype=np.float32)
    feats = Features(Variant("t", 64, 1, idf=True), texts, lexicon)
    feats.freeze_idf(np.array([0, 1]))  # fitted on the first two rows only
    frozen = feats.idf.copy()
    assert frozen.shape == (64,) and np.all(frozen >= 1)
    rows = feats.of(np.arange(4))
    assert rows.shape == (4, 2 + 64)
    assert np.array_equal(feats.idf, frozen)  # reading other rows never refits it
    common = _idf(feats.words[[0, 1]])
    assert common.max() > common.min()  # a word in every row weighs less than a rarer one
    plain = Features(Variant("b", 64, 1), texts, lexicon)
    plain.freeze_idf(np.array([0, 1]))
    assert plain.idf is None and set(np.unique(plain.of(np.arange(4)).data)) <= {1.0}
