"""The scale bench's synthetic history (benchmarks/scale/synthetic.py): a deterministic sequence of batches,
the share of relabelled texts it promises, and a stand-in embedder that is a function of the text."""

import numpy as np

from benchmarks.scale.options import ScaleOptions
from benchmarks.scale.standin import DIM, standin_vectors
from benchmarks.scale.synthetic import Corpus, SyntheticHistory
from tweet_sentiment.schema import LABEL_COLUMN, LABELS, TEXT_COLUMN

CORPUS = Corpus([f"w{i} x{i % 7} y{i % 13} z{i % 29} calm panic {i}".split() for i in range(300)],
                [LABELS[i % len(LABELS)] for i in range(300)])
OPTIONS = ScaleOptions(batch_rows=200, relabel_fraction=0.05)


def _pairs(history: SyntheticHistory, batch: int) -> list[tuple[str, str]]:
    rows = history.rows(batch)
    text, label = history.header.index(TEXT_COLUMN), history.header.index(LABEL_COLUMN)
    return [(r[text], r[label]) for r in rows]


def test_batches_are_the_same_every_time_and_sized_as_asked():
    one, two = SyntheticHistory(CORPUS, OPTIONS), SyntheticHistory(CORPUS, OPTIONS)
    assert [one.rows(b) for b in range(4)] == [two.rows(b) for b in range(4)]
    assert all(len(one.rows(b)) == 200 for b in range(4))
    assert _pairs(one, 3) != _pairs(one, 2)


def test_later_batches_relabel_five_percent_of_earlier_texts_with_another_label():
    history = SyntheticHistory(CORPUS, OPTIONS)
    first = {}
    for batch in range(6):
        pairs = _pairs(history, batch)
        fresh, relabels = pairs[:history.fresh_count(batch)], pairs[history.fresh_count(batch):]
        assert len(relabels) == (10 if batch else 0)
        for text, label in relabels:
            assert text in first and label != first[text]
        first.update((text, label) for text, label in fresh if text not in first)
    assert len(first) > 0.98 * sum(history.fresh_count(b) for b in range(6))  # new texts are (nearly) all distinct


def test_batch_sizes_must_be_whole_batches():
    assert ScaleOptions().batches(1_000_000) == 500
    for bad in (3000, 2000):
        try:
            ScaleOptions().batches(bad)
        except ValueError as exc:
            assert "multiple of 2000" in str(exc)
        else:
            raise AssertionError(f"{bad} rows accepted")


def test_standin_vectors_are_unit_vectors_fixed_by_the_text():
    a = standin_vectors(["one text", "another", "one text"])
    assert a.shape == (3, DIM) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert np.array_equal(a[0], a[2]) and not np.array_equal(a[0], a[1])
    assert np.array_equal(standin_vectors(["another"])[0], a[1])
