"""The model: the infinity embedding client, feature matrices, LightGBM boosting, the promotion gate, the model
registry and champion pointer, prediction, and the charts the pages draw. Imports ``storage``, ``config`` and the
shared vocabulary."""
