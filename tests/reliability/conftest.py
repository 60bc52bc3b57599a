"""Reliability tests: a tally of what they tried (files, rows, faults), printed at the end of the test run.

The tally is also written to ``test-output/reliability.json`` so docs/reliability.md can quote the figures.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "reliability.json"


@dataclass
class Tally:
    """What the reliability tests did: counted by the tests themselves, after their assertions passed."""

    files_tried: int = 0
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    ledgers_balanced: int = 0
    faults_injected: int = 0
    faults_survived: int = 0
    faults: list[str] = field(default_factory=list)

    def ledger(self, entry: dict, files: int) -> None:
        """Count one run's ledger entry (call after asserting that it balances)."""
        self.files_tried += files
        self.rows_in += entry["rows_in"]
        self.rows_accepted += entry["rows_accepted"]
        self.rows_quarantined += entry["rows_quarantined"]
        self.ledgers_balanced += entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]

    @contextlib.contextmanager
    def fault(self, name: str) -> Iterator[None]:
        """Inject a fault in the block; it counts as survived only if the block (with its checks) completes."""
        self.faults_injected += 1
        yield
        self.faults_survived += 1
        self.faults.append(name)


TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    t = TALLY
    if not (t.files_tried or t.faults_injected):
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(
        f"files tried: {t.files_tried}; rows accounted: {t.rows_in} = {t.rows_accepted} accepted + "
        f"{t.rows_quarantined} quarantined; ledgers balanced: {t.ledgers_balanced}")
    terminalreporter.write_line(f"faults injected: {t.faults_injected}; survived: {t.faults_survived}"
                                f"{'' if t.faults_survived == t.faults_injected else '  <-- NOT ALL SURVIVED'}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(asdict(t), indent=2))


def root_conftest(config: pytest.Config):
    """tests/conftest.py as loaded by pytest (its helpers: start_infinity, wait_http, stop_process_group, ...)."""
    return config.pluginmanager.get_plugin(str(Path(__file__).resolve().parents[1] / "conftest.py"))


SMALL_BOOSTING = {"num_boost_round": 20, "continue_rounds": 3}


def write_train_rows(small_dataset: Path, dst: Path, start: int, stop: int) -> None:
    """Rows ``start:stop`` of the small (chronological) training slice as a labelled CSV, written atomically."""
    from tweet_sentiment.csvio import decode_lines, write_csv_atomic

    reader = csv.reader(io.StringIO(decode_lines((small_dataset / "Corona_NLP_train.csv").read_bytes()), newline=""))
    header = next(reader)
    write_csv_atomic(dst, header, list(reader)[start:stop])


@pytest.fixture(scope="session")
def champion_base(tmp_path_factory: pytest.TempPathFactory, infinity_url: str, small_dataset: Path,
                  feature_cache: Path) -> Path:
    """A data root whose champion was bootstrapped (through the real infinity) from the first 600 tweets."""
    from tweet_sentiment.tasks import RunOptions, run_cycle

    root = tmp_path_factory.mktemp("champion-base") / "data"
    write_train_rows(small_dataset, root / "inbox" / "bootstrap.csv", 0, 600)
    run_cycle(settings_for(root, infinity_url, small_dataset, feature_cache), "boot",
              RunOptions.from_params({"strategy": "refit", "force_promote": True, **SMALL_BOOSTING}))
    return root


def settings_for(root: Path, url: str, small_dataset: Path, feature_cache: Path, **changes: object):
    """Settings of one pipeline: its data root, the small dataset and session cache, quick retries."""
    from tweet_sentiment.config import Settings

    return dataclasses.replace(
        Settings.from_env(), data_root=str(root), dataset_dir=str(small_dataset), cache_root=str(feature_cache),
        infinity_url=url, embed_retries=2, embed_backoff_s=0.05, file_settle_s=0.0,
        **changes)


@pytest.fixture
def pipeline_copy(champion_base: Path, tmp_path: Path) -> Path:
    """A private copy of the bootstrapped data root."""
    root = tmp_path / "data"
    shutil.copytree(champion_base, root, symlinks=True)
    return root


def champion_snapshot(root: Path) -> dict[str, bytes]:
    """The champion pointer and the bytes of the model it names (to show a fault left them alone)."""
    pointer = root / "registry" / "champion.json"
    version = json.loads(pointer.read_text())["version"]
    folder = root / "registry" / "versions" / version
    return {"pointer": pointer.read_bytes(), "model": (folder / "model.txt").read_bytes(),
            "card": (folder / "card.json").read_bytes()}


def assert_consistent(root: Path, feature_cache: Path) -> None:
    """Every file a reader relies on parses: pointer → complete model, cards, store, ledgers, caches."""
    from tweet_sentiment.embeddings import VectorCache
    from tweet_sentiment.registry import ModelRegistry
    from tweet_sentiment.store import LabelledStore

    registry = ModelRegistry(root / "registry")
    version, booster, card = registry.champion()
    assert card["version"] == version and booster.num_trees() > 0
    assert all(c["version"] for c in registry.versions())
    store = LabelledStore(root / "labelled")
    assert store.read_all()["text_hash"].is_unique
    for ledger in (root / "ledger").glob("*.json"):
        entry = json.loads(ledger.read_text())
        assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]
    for namespace in feature_cache.iterdir():
        cache = VectorCache(feature_cache, namespace.name)
        assert len(cache) > 0 and cache.dim
