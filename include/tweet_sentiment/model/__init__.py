"""The model: the infinity embedding client, feature matrices (a refit's built chunk by chunk), LightGBM
boosting, the promotion gate, the model registry and champion pointer, prediction, and the charts the pages draw.
Imports ``storage``, ``config`` and the shared vocabulary."""
