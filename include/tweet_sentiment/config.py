"""One Settings object, read from the environment: every path, URL and threshold lives here."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tweet_sentiment.storage.fs import DataLayout, is_local

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KAGGLE_HINT = (
    "Download the Kaggle dataset 'datatattle/covid-19-nlp-text-classification' "
    "(kaggle datasets download -d datatattle/covid-19-nlp-text-classification), unzip it and point "
    "TWEET_SENTIMENT_DATASET_DIR at the folder holding Corona_NLP_train.csv and Corona_NLP_test.csv."
)


class DatasetMissingError(FileNotFoundError):
    """The labelled dataset is not where the configuration says."""


class SettingError(ValueError):
    """An environment variable holds a value its setting cannot take; the message names it and what it may be."""


def _env_number(name: str, default: float, kind: type, low: float, high: float | None) -> float:
    """``name``'s value as ``kind`` (``default`` when unset), or SettingError naming the variable and its range."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    allowed = f"{'an integer' if kind is int else 'a number'} from {low:g}" + (f" to {high:g}" if high is not None
                                                                                  else " up")
    try:
        value = kind(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not valid: it must be {allowed}") from None
    if value < low or (high is not None and value > high) or value != value:  # value != value: NaN
        raise SettingError(f"{name}={raw!r} is out of range: it must be {allowed}")
    return value


def _env_float(name: str, default: float, low: float = 0.0, high: float | None = None) -> float:
    return _env_number(name, default, float, low, high)


def _env_int(name: str, default: int, low: int = 0, high: int | None = None) -> int:
    return int(_env_number(name, default, int, low, high))


def _names(comma_separated: str) -> list[str]:
    return [name for name in (n.strip() for n in comma_separated.split(",")) if name]


def _default_dataset_dir() -> str:
    return str(PROJECT_ROOT.parent / "shared" / "data")


def _scoring_from_env(d: Settings) -> dict:
    """The scoring stream's settings (``TWEET_SENTIMENT_*`` named like the fields, upper case)."""
    def env(name: str) -> str | None:
        return os.environ.get(f"TWEET_SENTIMENT_{name.upper()}")

    values: dict = {name: env(name) or getattr(d, name) for name in ("unlabelled_source", "drift_reference")}
    for name, (low, high) in SCORING_RANGES.items():
        variable, default = f"TWEET_SENTIMENT_{name.upper()}", getattr(d, name)
        values[name] = (_env_int if isinstance(default, int) else _env_float)(variable, default, low, high)
    if values["drift_reference"] not in DRIFT_REFERENCES:
        raise SettingError(f"TWEET_SENTIMENT_DRIFT_REFERENCE={values['drift_reference']!r} is not valid: it must "
                           f"be one of {', '.join(DRIFT_REFERENCES)}")
    return values


def _alerts_from_env(d: Settings) -> dict:
    """The alerts' settings (``TWEET_SENTIMENT_*`` named like the fields, upper case)."""
    values: dict = {name: os.environ.get(f"TWEET_SENTIMENT_{name.upper()}", getattr(d, name))
                    for name in ("alert_notifier", "alert_notifier_kwargs", "alert_email_to", "alert_email_from")}
    for name, low in ALERT_MINIMA.items():
        values[name] = _env_float(f"TWEET_SENTIMENT_{name.upper()}", getattr(d, name), low)
    return values


ALERT_MINIMA = {"watch_every_min": 0.1, "retrain_stall_min": 0.0, "scoring_behind_min": 0.0,
                "quarantine_rows_per_hour": 0.0, "approval_wait_min": 0.0}
DRIFT_REFERENCES = ("stream", "training")
SCORING_RANGES = {  # the scoring stream's numeric settings and their (lowest, highest) values
    "unlabelled_feed_rows": (1, None), "score_every_min": (0.1, None), "mood_hourly_min_tweets": (1, None),
    "drift_window_rows": (10, None), "drift_reference_max_rows": (10, None), "drift_sample_rows": (10, None),
    "drift_auc_threshold": (0.5, 1.0), "drift_js_threshold": (0.0, 1.0), "drift_confidence_drop": (0.0, 1.0),
    "labelling_drift_share": (0.0, 1.0), "stream_retention_days": (0.0, None), "rescore_rows": (1, None),
    "mood_alert_baseline_periods": (2, None), "mood_alert_min_baseline_periods": (2, None),
    "mood_alert_q": (0.0, 1.0), "mood_alert_prior_weight": (0.0, None), "mood_alert_min_word_tweets": (1, None),
    "mood_alert_min_lift": (0.0, None),
    "mood_alert_share_level": (0.5, 1.0), "mood_alert_max_words": (1, None), "mood_alert_examples": (0, None),
    "score_partitions": (0, None), "stream_part_rows": (1, None), "score_chunk_rows": (1, None),
}


@dataclass(frozen=True)
class Settings:
    """Configuration of the pipeline; build it with :meth:`from_env`."""

    data_root: str = str(PROJECT_ROOT / "var")
    dataset_dir: str = field(default_factory=_default_dataset_dir)
    cache_root: str = ""  # the feature cache; empty: <data_root>/embeddings
    state_db_url: str = ""  # the state database (SQLAlchemy URL); empty: SQLite at <data_root>/state.sqlite
    infinity_url: str = "http://127.0.0.1:7997"
    infinity_api_key: str = ""
    infinity_urls: str = ""  # comma-separated infinity replicas the scoring partitions share; empty: infinity_url
    embedding_model: str = "all-MiniLM-L6-v2"
    embed_batch_size: int = 128
    embed_concurrency: int = 2
    embed_timeout_s: float = 60.0
    embed_retries: int = 4
    embed_backoff_s: float = 1.0
    file_settle_s: float = 2.0
    sensor_wait_s: float = 0.0  # with nothing to do, how long a run waits before it ends skipped
    sensor_poke_s: float = 1.0
    sensor_timeout_s: float = 120.0  # the longest a run waits for inbox files still being written
    api_conn_id: str = "tweet_sentiment_api"  # Airflow connection: the REST API and a login that may note runs
    max_text_chars: int = 1000
    max_file_mb: float = 20.0
    claim_max_files: int = 100  # one run claims at most this many inbox files; the rest waits for the next run
    claim_max_mb: float = 200.0  # ... and at most this many MB (one file always, however large)
    max_failed_runs: int = 3  # a claimed file alone in this many failed runs' batches is quarantined unread
    bootstrap_rows: int = 8000
    feed_batch_rows: int = 2000
    recent_holdout_fraction: float = 0.15
    recent_holdout_salt: str = "recent-holdout-v1"
    recent_window_rows: int = 900
    recent_window_min_rows: int = 200
    predict_max_texts: int = 256
    labelling_load_rows: int = 200
    annotators: str = ""  # comma-separated Airflow user names who annotate; two or more switch overlap on
    label_overlap_share: float = 0.10  # of each labelling load, the share reserved for two annotators
    # the scoring stream (issue 16): the unlabelled inbox, the mood series, drift
    unlabelled_source: str = "covid_tweets_unlabelled_2022.csv"  # make feed-unlabelled: a dataset file or a path
    unlabelled_feed_rows: int = 2000
    score_every_min: float = 5.0  # the scoring DAG's timetable (files dropped without an asset event)
    mood_hourly_min_tweets: int = 100  # an hour is a point of the hourly series with at least this many tweets
    # mood alerts (monitoring/mood_alerts, docs/mood-alerts.md): a period (an hour where the mood is hourly, else
    # a day) against the trailing baseline of the same resolution, scored by the same champion version
    mood_alert_baseline_periods: int = 7  # the trailing periods compared with
    mood_alert_min_baseline_periods: int = 3  # fewer baseline periods scored wholly by the version: no check
    mood_alert_q: float = 1e-5  # Benjamini-Hochberg's level over a check's words x classes (docs/mood-alerts.md)
    mood_alert_prior_weight: float = 1000.0  # the informative Dirichlet prior's pseudo-counts in all (alpha_0)
    mood_alert_min_word_tweets: int = 5  # a word is tested where at least this many of the class's tweets use it
    mood_alert_min_lift: float = 1.0  # a driver's log-odds rose this much more in its class than in the others'
    mood_alert_share_level: float = 0.998  # a class's share out of this interval around its baseline: an alert
    mood_alert_max_words: int = 10  # driver words named per alert, highest z first
    mood_alert_examples: int = 3  # example tweets per driver word (while their texts are retained)
    drift_reference: str = "stream"  # stream: the first scored window; training: the champion's training rows
    drift_window_rows: int = 2000  # the reference window (stream) and the recent window, in tweets
    drift_reference_max_rows: int = 20000  # training rows sampled as the reference
    drift_sample_rows: int = 5000  # rows per side the domain classifier fits on (sampled beyond)
    drift_auc_threshold: float = 0.55  # Evidently's default for the domain classifier's ROC AUC
    drift_js_threshold: float = 0.1  # Jensen-Shannon distance of the predicted class mix (Evidently's default)
    drift_confidence_drop: float = 0.05  # a fall of the mean top-class probability by this much
    labelling_drift_share: float = 0.5  # of each labelling load, the share drawn from a drifted window
    # scored tweets' texts, vectors and per-tweet scores are kept this long after arrival; then only their share
    # of the mood's counts and their duplicate-check hash remain (the drift reference's batches are kept)
    stream_retention_days: float = 30.0
    rescore_rows: int = 200_000  # a scoring run re-scores at most this many tweets of a new champion's history
    # a scoring run's work is split into this many partitions, mapped over the workers (0: one per infinity URL);
    # a claimed unlabelled batch is stored in parts of at most stream_part_rows rows, the unit a partition takes
    score_partitions: int = 0
    stream_part_rows: int = 5000
    # a partition commits its scores every score_chunk_rows rows (about: a batch is never split), holding no more
    # in memory; a retried partition redoes at most its last uncommitted chunk
    score_chunk_rows: int = 20_000
    seed: int = 13
    # housekeeping (its own DAG): table versions younger than this stay readable (restore, lineage), older
    # ones and the files only they need are deleted
    table_retention_hours: int = 7 * 24
    housekeeping_cron: str = "30 3 * * *"  # daily, off the busy hours
    approval_timeout_s: float = 3 * 24 * 3600.0  # an unanswered approval keeps the champion after this
    approval_users: str = "admin"  # comma-separated Airflow user names who may answer an approval
    approval_examples: int = 8  # tweets where the two models disagree, per holdout, shown in the request
    rejected_model_retention_days: float = 7.0  # a rejected challenger's model file is dropped after (card kept)
    max_champion_trees: int = 800  # past this, the refit DAG compacts the champion (a refit of at most half as many)
    refit_cron: str = "0 * * * *"  # when the refit DAG checks its policy (cheap: one card read)
    # alerts (issue 29): where notifications go, and the loop-health checks' limits
    alert_notifier: str = "airflow.providers.smtp.notifications.smtp.SmtpNotifier"  # any Airflow notifier class
    alert_notifier_kwargs: str = ""  # JSON: the notifier's arguments (Jinja: {{ alert_subject }}, {{ alert_text }})
    alert_email_to: str = "tweet-sentiment@localhost"  # the SMTP notifier's recipients (comma-separated)
    alert_email_from: str = "tweet-sentiment-alerts@localhost"
    watch_every_min: float = 5.0  # the watch DAG's timetable
    retrain_stall_min: float = 120.0  # labelled inbox files waiting this long with no retrain since: an alert
    scoring_behind_min: float = 60.0  # the oldest unscored tweet (unlabelled inbox file) older than this
    quarantine_rows_per_hour: float = 500.0  # rows quarantined in the last hour beyond this
    approval_wait_min: float = 240.0  # an approval (HITL) waiting longer than this
    refit_every_batches: int = 8  # a refit pays every this many batches since the last fresh fit (0: never)

    @classmethod
    def from_env(cls) -> Settings:
        """Read every setting from ``TWEET_SENTIMENT_*`` / ``INFINITY_*`` variables, with defaults."""
        d = cls()
        return cls(
            data_root=os.environ.get("TWEET_SENTIMENT_DATA_ROOT", d.data_root),
            dataset_dir=os.environ.get("TWEET_SENTIMENT_DATASET_DIR", d.dataset_dir),
            cache_root=os.environ.get("TWEET_SENTIMENT_CACHE_ROOT", d.cache_root),
            state_db_url=os.environ.get("TWEET_SENTIMENT_STATE_DB_URL", d.state_db_url),
            infinity_url=os.environ.get("INFINITY_URL", d.infinity_url).rstrip("/"),
            infinity_api_key=os.environ.get("INFINITY_API_KEY", d.infinity_api_key),
            infinity_urls=os.environ.get("INFINITY_URLS", d.infinity_urls),
            embedding_model=os.environ.get("INFINITY_MODEL", d.embedding_model),
            embed_batch_size=_env_int("INFINITY_BATCH_SIZE", d.embed_batch_size, 1),
            embed_concurrency=_env_int("INFINITY_CONCURRENCY", d.embed_concurrency, 1),
            embed_timeout_s=_env_float("INFINITY_TIMEOUT_S", d.embed_timeout_s, 0.1),
            embed_retries=_env_int("INFINITY_RETRIES", d.embed_retries),
            embed_backoff_s=_env_float("INFINITY_BACKOFF_S", d.embed_backoff_s),
            file_settle_s=_env_float("TWEET_SENTIMENT_FILE_SETTLE_S", d.file_settle_s),
            sensor_wait_s=_env_float("TWEET_SENTIMENT_SENSOR_WAIT_S", d.sensor_wait_s),
            sensor_poke_s=_env_float("TWEET_SENTIMENT_SENSOR_POKE_S", d.sensor_poke_s, 0.01),
            sensor_timeout_s=_env_float("TWEET_SENTIMENT_SENSOR_TIMEOUT_S", d.sensor_timeout_s),
            api_conn_id=os.environ.get("TWEET_SENTIMENT_API_CONN_ID", d.api_conn_id),
            max_text_chars=_env_int("TWEET_SENTIMENT_MAX_TEXT_CHARS", d.max_text_chars, 1),
            max_file_mb=_env_float("TWEET_SENTIMENT_MAX_FILE_MB", d.max_file_mb, 0.001),
            claim_max_files=_env_int("TWEET_SENTIMENT_CLAIM_MAX_FILES", d.claim_max_files, 1),
            claim_max_mb=_env_float("TWEET_SENTIMENT_CLAIM_MAX_MB", d.claim_max_mb, 0.001),
            max_failed_runs=_env_int("TWEET_SENTIMENT_MAX_FAILED_RUNS", d.max_failed_runs, 1),
            bootstrap_rows=_env_int("TWEET_SENTIMENT_BOOTSTRAP_ROWS", d.bootstrap_rows, 1),
            feed_batch_rows=_env_int("TWEET_SENTIMENT_FEED_BATCH_ROWS", d.feed_batch_rows, 1),
            recent_holdout_fraction=_env_float(
                "TWEET_SENTIMENT_RECENT_HOLDOUT_FRACTION", d.recent_holdout_fraction, 0.0, 1.0),
            recent_holdout_salt=os.environ.get("TWEET_SENTIMENT_RECENT_HOLDOUT_SALT", d.recent_holdout_salt),
            recent_window_rows=_env_int("TWEET_SENTIMENT_RECENT_WINDOW_ROWS", d.recent_window_rows, 1),
            recent_window_min_rows=_env_int("TWEET_SENTIMENT_RECENT_WINDOW_MIN_ROWS", d.recent_window_min_rows),
            predict_max_texts=_env_int("TWEET_SENTIMENT_PREDICT_MAX_TEXTS", d.predict_max_texts, 1),
            labelling_load_rows=_env_int("TWEET_SENTIMENT_LABELLING_LOAD_ROWS", d.labelling_load_rows, 1),
            annotators=os.environ.get("TWEET_SENTIMENT_ANNOTATORS", d.annotators),
            label_overlap_share=_env_float("TWEET_SENTIMENT_LABEL_OVERLAP", d.label_overlap_share, 0.0, 1.0),
            **_scoring_from_env(d),
            seed=_env_int("TWEET_SENTIMENT_SEED", d.seed),
            table_retention_hours=_env_int("TWEET_SENTIMENT_TABLE_RETENTION_HOURS", d.table_retention_hours),
            housekeeping_cron=os.environ.get("TWEET_SENTIMENT_HOUSEKEEPING_CRON", d.housekeeping_cron),
            approval_timeout_s=_env_float("TWEET_SENTIMENT_APPROVAL_TIMEOUT_S", d.approval_timeout_s),
            approval_users=os.environ.get("TWEET_SENTIMENT_APPROVAL_USERS", d.approval_users),
            approval_examples=_env_int("TWEET_SENTIMENT_APPROVAL_EXAMPLES", d.approval_examples),
            rejected_model_retention_days=_env_float("TWEET_SENTIMENT_REJECTED_MODEL_RETENTION_DAYS",
                                                     d.rejected_model_retention_days),
            max_champion_trees=_env_int("TWEET_SENTIMENT_MAX_CHAMPION_TREES", d.max_champion_trees),
            refit_cron=os.environ.get("TWEET_SENTIMENT_REFIT_CRON", d.refit_cron),
            refit_every_batches=_env_int("TWEET_SENTIMENT_REFIT_EVERY_BATCHES", d.refit_every_batches),
            **_alerts_from_env(d),
        )

    @property
    def unlabelled_source_file(self) -> Path:
        """The file ``make feed-unlabelled`` replays: a name in the dataset folder, or a path."""
        path = Path(self.unlabelled_source)
        return path if path.is_absolute() else self.dataset_file(self.unlabelled_source)

    @property
    def embedding_urls(self) -> list[str]:
        """The infinity replicas scoring partitions embed through, in order (``infinity_url`` alone by default)."""
        return [url.rstrip("/") for url in _names(self.infinity_urls)] or [self.infinity_url]

    @property
    def scoring_partitions(self) -> int:
        """How many partitions a scoring run maps over: the setting, else one per infinity replica."""
        return self.score_partitions or len(self.embedding_urls)

    @property
    def sensor_deadline_s(self) -> float:
        """The sensor's own timeout: past it, even files still being written are left to the next run."""
        return max(self.sensor_timeout_s, self.sensor_wait_s + self.sensor_poke_s)

    @property
    def max_file_bytes(self) -> int:
        """The largest file an input may be (``max_file_mb`` in bytes)."""
        return int(self.max_file_mb * 2**20)

    @property
    def annotator_names(self) -> list[str]:
        """The configured annotators (Airflow user names)."""
        return _names(self.annotators)

    @property
    def approvers(self) -> list[dict[str, str]]:
        """The approval's assigned users, as Airflow's HITL operators take them."""
        return [{"id": name, "name": name} for name in _names(self.approval_users)]

    @property
    def alert_notifier_options(self) -> dict:
        """The notifier's keyword arguments (``TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS``, a JSON object)."""
        if not self.alert_notifier_kwargs.strip():
            return {}
        try:
            options = json.loads(self.alert_notifier_kwargs)
        except json.JSONDecodeError as exc:
            raise SettingError(f"TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS is not valid JSON: {exc}") from None
        if not isinstance(options, dict):
            raise SettingError("TWEET_SENTIMENT_ALERT_NOTIFIER_KWARGS must be a JSON object (the notifier's "
                               "keyword arguments)")
        return options

    @property
    def state_db(self) -> str:
        """The state database's SQLAlchemy URL: the configured one, else SQLite in a local data root."""
        if self.state_db_url:
            return self.state_db_url
        root = self.layout().root
        if not is_local(root):
            raise SettingError(f"the data root {root} is on object storage, where SQLite cannot live: set "
                               "TWEET_SENTIMENT_STATE_DB_URL to a database URL (e.g. postgresql+psycopg2://...)")
        return f"sqlite:///{Path(root) / 'state.sqlite'}"

    def layout(self) -> DataLayout:
        """Where each kind of data lives: the data root's folders, and the feature cache."""
        return DataLayout(self.data_root, self.cache_root or None)

    def dataset_file(self, name: str) -> Path:
        """Path of one file of the Kaggle dataset; a clear error naming how to get it when missing."""
        path = Path(self.dataset_dir) / name
        if not path.is_file():
            raise DatasetMissingError(f"{path} not found. {KAGGLE_HINT}")
        return path

    @property
    def train_file(self) -> Path:
        return self.dataset_file("Corona_NLP_train.csv")

    @property
    def holdout_file(self) -> Path:
        return self.dataset_file("Corona_NLP_test.csv")

    @property
    def unlabelled_file(self) -> Path:
        """Later, unlabelled tweets: the default source of the labelling queue."""
        return self.dataset_file("covid_tweets_unlabelled_2022.csv")
