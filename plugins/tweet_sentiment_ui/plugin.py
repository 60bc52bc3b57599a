"""Registers the tweet-sentiment app with Airflow: served under /tweet-sentiment, four pages in the navigation."""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from tweet_sentiment.pipeline.feed_events import PLUGIN_PREFIX as URL_PREFIX
from tweet_sentiment_ui.app import create_app


class TweetSentimentPlugin(AirflowPlugin):
    """Labelling queue, prediction API, model page and mood page inside the Airflow UI."""

    name = "tweet_sentiment_ui"
    fastapi_apps: ClassVar[list[dict]] = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Tweet sentiment"}]
    external_views: ClassVar[list[dict]] = [
        {"name": "Label tweets", "href": f"{URL_PREFIX.lstrip('/')}/labelling", "url_route": "tweet-labelling",
         "destination": "nav", "nav_top_level": True},
        {"name": "Labels", "href": f"{URL_PREFIX.lstrip('/')}/labels", "url_route": "tweet-labels",
         "destination": "nav", "nav_top_level": True},
        {"name": "Sentiment model", "href": f"{URL_PREFIX.lstrip('/')}/model", "url_route": "tweet-model",
         "destination": "nav", "nav_top_level": True},
        {"name": "Mood", "href": f"{URL_PREFIX.lstrip('/')}/mood", "url_route": "tweet-mood",
         "destination": "nav", "nav_top_level": True},
    ]
