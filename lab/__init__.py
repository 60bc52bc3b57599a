"""The quality lab (``make quality``, ``python -m lab``): scenarios replayed through the product's own cycle, and
the measurement-only metrics and charts that judge them. Measurement, not the product: it imports
``tweet_sentiment``; nothing under ``include/`` imports it."""
