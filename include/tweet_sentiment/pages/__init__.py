"""What the UI's pages show (the Model, Mood and Labels pages' figures), built from the registry, the mood and
drift, the labelling queue and the label check's held rows. The plugin (``plugins/tweet_sentiment_ui``) serves
them. Imports ``monitoring``, ``labelling``, ``label_check``, ``model``, ``storage``."""
