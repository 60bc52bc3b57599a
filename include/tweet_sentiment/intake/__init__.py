"""Files in, rows out: claiming inbox files into a batch (bounded; the count of failed runs a claimed file was in),
the ingest engine and its labelled and unlabelled adapters, the quarantine a person lists and releases from, and
the feed that replays the dataset into the inboxes. Imports ``storage`` and the shared vocabulary."""
