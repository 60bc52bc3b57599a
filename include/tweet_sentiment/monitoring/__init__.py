"""Following the unlabelled stream: scoring it with the champion, the mood over time, and drift between the
stream and the labelled data. Imports ``model``, ``intake``, ``storage`` and the shared vocabulary."""
