"""The label check: likely label errors found by confident learning, the check that holds or down-weights them
in a batch, and the review that resolves held rows. Imports ``model``, ``storage`` and the shared vocabulary."""
