"""What the UI's pages show (the Model and Mood pages' figures), built from the registry, the mood and drift. The
plugin (``plugins/tweet_sentiment_ui``) serves them. Imports ``monitoring``, ``model``, ``storage``."""
