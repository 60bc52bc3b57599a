"""The scale bench's grown champion (benchmarks/scale/prediction.py): the continuations' trees repeated in order give
a model of as many trees as asked, which LightGBM loads and predicts with; at the continued model's own size it is
that model."""

import lightgbm as lgb
import numpy as np

from benchmarks.scale.prediction import extended

PARAMS = {"objective": "multiclass", "num_class": 5, "verbose": -1, "num_threads": 1, "seed": 1}


def test_the_continuations_trees_extended_make_a_model_of_as_many_trees():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 12)), rng.integers(0, 5, 400)
    base = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=4)
    continued = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=3, init_model=base, keep_training_booster=True)
    first = base.num_trees()
    same = extended(continued, first, continued.num_trees())
    assert same.num_trees() == continued.num_trees() == first + 15
    np.testing.assert_allclose(same.predict(x), continued.predict(x))
    grown = extended(continued, first, first + 200 * 15 + 5)
    assert grown.num_trees() == first + 3005 and grown.current_iteration() == 4 + 601
    assert grown.predict(x[:3]).shape == (3, 5)
    assert extended(continued, first, first).num_trees() == first  # no continuation: the bootstrap's trees
