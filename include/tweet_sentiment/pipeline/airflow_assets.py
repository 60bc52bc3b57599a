"""The Airflow objects of the loop's assets and aliases, built once from ``assets``' names for the DAGs to schedule
on and emit (kept apart from ``assets``, which the UI plugin imports, so that importing the plugin never imports
Airflow first)."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from tweet_sentiment.pipeline import assets

INBOX = Asset(name=assets.INBOX.name, uri=assets.INBOX.uri)
CHAMPION = Asset(name=assets.CHAMPION.name, uri=assets.CHAMPION.uri)
UNLABELLED = Asset(name=assets.UNLABELLED.name, uri=assets.UNLABELLED.uri)
CANDIDATE = Asset(name=assets.CANDIDATE.name, uri=assets.CANDIDATE.uri)
MOOD_ALERT = Asset(name=assets.MOOD_ALERT.name, uri=assets.MOOD_ALERT.uri)
CHAMPION_CHANGE = AssetAlias(assets.CHAMPION_ALIAS)
CANDIDATE_AMBIGUOUS = AssetAlias(assets.CANDIDATE_ALIAS)
MOOD_ALERT_BEGAN = AssetAlias(assets.MOOD_ALERT_ALIAS)
