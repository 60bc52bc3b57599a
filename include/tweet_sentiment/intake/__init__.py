"""Files in, rows out: claiming inbox files into a batch, the ingest engine and its labelled and unlabelled
adapters, and the feed that replays the dataset into the inboxes. Imports ``storage`` and the shared vocabulary."""
