"""The scale bench's grown champion (benchmarks/scale/prediction.py): a continuation's trees repeated give a model
of that many trees which LightGBM loads and predicts with; one copy is the continued model itself."""

import lightgbm as lgb
import numpy as np

from benchmarks.scale.prediction import repeated

PARAMS = {"objective": "multiclass", "num_class": 5, "verbose": -1, "num_threads": 1, "seed": 1}


def test_a_continuations_trees_repeated_make_a_model_of_as_many_trees():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 12)), rng.integers(0, 5, 400)
    base = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=4)
    continued = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=3, init_model=base, keep_training_booster=True)
    first = base.num_trees()
    same = repeated(continued, first, 1)
    assert same.num_trees() == continued.num_trees() == first + 15
    np.testing.assert_allclose(same.predict(x), continued.predict(x))
    grown = repeated(continued, first, 200)
    assert grown.num_trees() == first + 200 * 15 and grown.current_iteration() == 4 + 200 * 3
    assert grown.predict(x[:3]).shape == (3, 5)
