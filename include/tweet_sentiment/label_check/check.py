"""The label check of one ingested batch: likely label errors held for review, or down-weighted (label_errors.py).

Runs between embed and train. The batch's rows (those not already reviewed by a person) and a replay sample of the
labelled store get out-of-fold probabilities from a small cross-validated LightGBM on the model's own features
(from the feature cache: nothing is embedded again); confident learning flags the likely errors. A flagged row
that makes a recent systematic correction (many people, same change, same topic) is kept: the feedback loop is
never held back. The others, by the run's ``flagged_rows`` Param:

- ``hold`` (default): taken out of the batch's store file, into ``labels/flagged/<batch_id>.parquet`` with the
  suggested label, the confidence and the reason; they wait in the review queue (label_review.py). The batch's
  ledger entry then balances as ``rows_in == rows_accepted + rows_superseding + rows_quarantined + rows_held``.
- ``down_weight``: kept in the store with ``label_weight`` = the ``flagged_weight`` Param (recorded in the same
  file; not queued for review).
- ``off``: no check.

The systematic corrections the batch's check finds are merged into ``labels/corrections.json``
(known_corrections.py: training weighs down the older rows they contradict, after they leave the check's window).
Each step is idempotent and ordered for a crash: the flagged file is written first (a retry re-applies it, never
re-decides), then the store file, then the ledger entry, then the check's record ``labels/checks/<batch_id>.json``
(which a retry returns as it is).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from typing import TypedDict

import numpy as np
import pandas as pd
from upath import UPath

from tweet_sentiment.label_check.confident_learning import (
    LabelCheckParams,
    follows_correction,
    likely_errors,
    out_of_fold_probabilities,
    systematic_corrections,
)
from tweet_sentiment.label_check.known_corrections import remember_corrections
from tweet_sentiment.label_check.teaching import TeachingWeights, teaching_weights
from tweet_sentiment.model.boosting import Features
from tweet_sentiment.schema import LABEL_TO_ID, LABELS, STORE_COLUMNS
from tweet_sentiment.storage.fs import DataLayout, read_json, write_bytes_atomic, write_json_atomic
from tweet_sentiment.storage.labelled_store import LabelledStore

FLAGGED_MODES = ("hold", "down_weight", "off")
HELD, DOWN_WEIGHTED, KEPT = "held", "down_weighted", "kept"
FLAG_COLUMNS = (*STORE_COLUMNS, "flag_id", "suggested", "confidence", "given_confidence", "reason", "action",
                "correction", "superseding")
_EXAMPLES = 20
_REVIEW_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")  # a flag id (<batch id>--<seq>): a file name, never a path


def flagged_file(layout: DataLayout, batch_id: str) -> UPath:
    return layout.labels / "flagged" / f"{batch_id}.parquet"


def read_flagged(path: UPath) -> pd.DataFrame:
    with path.open("rb") as fh:
        return pd.read_parquet(fh)


class LabelCheckRecord(TypedDict, total=False):
    """What the label check did to a batch (the check_labels XCom and ``labels/checks/<batch_id>.json``)."""

    batch_id: str
    mode: str  # hold | down_weight | off
    rows_checked: int
    rows_replayed: int
    rows_flagged: int
    rows_held: int
    rows_down_weighted: int
    rows_kept: int
    rows_up_weighted: int  # rows that teach (label_check.teaching), stored with a weight above 1
    reason: str
    thresholds: dict[str, float]
    systematic_corrections: list[dict]
    flagged_by_change: dict[str, int]
    examples: list[dict]
    annotator_disagreements: dict
    ledger: dict  # the batch's ledger counts after the held rows moved out of accepted
    rows_released: int  # held rows of earlier batches sent back by a now systematic correction
    holdout_rows_queued: int  # fixed-holdout tweets the corrections touch, queued for re-annotation
    seconds: float
    cpu_seconds: float


def check_record(layout: DataLayout, batch_id: str) -> LabelCheckRecord:
    """The label check's record of a batch ({} when the batch was never checked)."""
    path = layout.labels / "checks" / f"{batch_id}.json"
    return read_json(path) if path.exists() else {}


def check_batch(layout: DataLayout, batch_id: str, features_of: Callable[[list[str]], Features], mode: str,
                weight: float, params: LabelCheckParams | None = None,
                teaching: TeachingWeights | None = None) -> LabelCheckRecord:
    """Check the batch's labels and hold / down-weight the likely errors, then up-weight the rows that teach
    (label_check.teaching; never a held or down-weighted one); the record (see the module doc)."""
    params = params or LabelCheckParams()
    if mode not in FLAGGED_MODES:
        raise ValueError(f"flagged_rows must be one of {FLAGGED_MODES}, not {mode!r}")
    record_file = layout.labels / "checks" / f"{batch_id}.json"
    if record_file.exists():
        return read_json(record_file)
    start, cpu = time.perf_counter(), time.process_time()
    store = LabelledStore(layout.labelled)
    record: LabelCheckRecord = {"batch_id": batch_id, "mode": mode, "rows_checked": 0, "rows_flagged": 0,
                                "rows_held": 0, "rows_down_weighted": 0, "rows_kept": 0}
    batch = store.read_batch(batch_id)
    earlier = store.newest_of(batch["text_hash"].tolist(), exclude={batch_id},  # the batch's texts' earlier rows
                              columns=["text_hash", "label", "annotator", "batch_id"])
    path = flagged_file(layout, batch_id)
    if batch.empty and not path.exists():  # (a retry after holding every row finds the file)
        record["reason"] = "no accepted rows in this batch"
    elif mode == "off":
        record.update(reason="label check off (flagged_rows=off)",
                      annotator_disagreements=_disagreements(batch, earlier))
    else:
        found: dict = {}
        unchecked = batch[~reviewed(layout, batch)].reset_index(drop=True)
        corrections = systematic_corrections(_recent(store, batch_id, unchecked, params.recent_batches), params)
        remember_corrections(layout, batch_id, corrections)  # training weighs down the rows they contradict
        if not path.exists():
            found = _find(layout, batch_id, unchecked, earlier, corrections, features_of, mode, params)
            _write_parquet(path, found.pop("flagged"))
        flagged = read_flagged(path)
        teach = teaching_weights(batch, earlier, corrections, teaching or TeachingWeights())
        batch = _apply(store, batch, flagged, weight, teach)
        record.update(found, **_counts(flagged), rows_up_weighted=int((batch["label_weight"] > 1).sum()),
                      annotator_disagreements=_disagreements(batch, earlier),
                      ledger=_update_ledger(layout, batch_id, flagged))
    # CPU seconds beside the wall clock: on a loaded machine the two differ by the load
    record.update(seconds=round(time.perf_counter() - start, 3), cpu_seconds=round(time.process_time() - cpu, 3))
    write_json_atomic(record_file, record)
    return record


def reviewed(layout: DataLayout, batch: pd.DataFrame) -> pd.Series:
    """Which rows a person reviewed already: a ``review_id`` whose review record exists, sent the row back (not
    dropped) and names the file the row came in (a claim may have prefixed ``<n>-`` to a clashing name). Any other
    ``ReviewId`` is just a column an inbox file carried: its row is checked like the rest."""
    def honoured(review_id: str, source_file: str) -> bool:
        if not _REVIEW_ID.fullmatch(review_id):
            return False
        path = layout.labels / "reviews" / f"{review_id}.json"
        sent = read_json(path).get("inbox_file") if path.exists() else None
        return bool(sent) and re.fullmatch(rf"(\d+-)?{re.escape(sent)}", source_file) is not None

    return pd.Series([honoured(str(r), str(f)) for r, f in zip(batch["review_id"], batch["source_file"], strict=True)],
                     index=batch.index, dtype=bool)


def _find(layout: DataLayout, batch_id: str, unchecked: pd.DataFrame, earlier: pd.DataFrame, corrections: pd.DataFrame,
          features_of: Callable[[list[str]], Features], mode: str, params: LabelCheckParams) -> dict:
    """The flagged rows (FLAG_COLUMNS) among the batch's ``unchecked`` rows and what the check saw: rows,
    thresholds, systematic corrections. ``earlier``: the newest row of each of the batch's texts stored by another
    batch; ``corrections``: the systematic corrections of the recent batches and this one."""
    store = LabelledStore(layout.labelled)
    replay = store.replay_sample(params.replay_rows, params.seed, exclude={batch_id}, columns=["text", "label"])
    rows = pd.concat([unchecked, replay], ignore_index=True)
    labels = rows["label"].map(LABEL_TO_ID).to_numpy()
    seen = {"rows_checked": len(unchecked), "rows_replayed": len(replay)}
    if len(rows) < 2 * params.folds or len(set(labels)) < 2:
        return {**seen, "flagged": _frame([]), "reason": "too few rows or classes to cross-validate"}
    probabilities = out_of_fold_probabilities(features_of(rows["text"].tolist()), labels, len(LABELS), params)
    flags = likely_errors(probabilities, labels, params)
    n = len(unchecked)
    candidates = unchecked[flags.flagged[:n]].copy()
    where = np.flatnonzero(flags.flagged[:n])
    candidates["correction"] = follows_correction(candidates, corrections)
    candidates["suggested"] = [LABELS[k] for k in flags.suggested[where]]
    candidates["confidence"] = flags.confidence[where].round(4)
    candidates["given_confidence"] = probabilities[where, labels[where]].round(4)
    candidates["reason"] = [_reason(r, flags.thresholds) for r in candidates.itertuples()]
    candidates["action"] = np.where(candidates["correction"] != "", KEPT, HELD if mode == "hold" else DOWN_WEIGHTED)
    candidates["flag_id"] = [f"{batch_id}--{seq}" for seq in candidates["seq"]]
    candidates["superseding"] = candidates["text_hash"].isin(set(earlier["text_hash"]))
    return {**seen, "flagged": _frame(candidates),
            "thresholds": dict(zip(LABELS, flags.thresholds.round(4).tolist(), strict=True)),
            "systematic_corrections": corrections.head(_EXAMPLES).to_dict("records")}


def _reason(row, thresholds: np.ndarray) -> str:
    t = thresholds[LABEL_TO_ID[row.suggested]]
    return (f"cross-validated model: {row.suggested} {row.confidence:.2f} (its class threshold {t:.2f}), "
            f"{row.label} as labelled {row.given_confidence:.2f}")


def _frame(rows: pd.DataFrame | list) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(FLAG_COLUMNS)) if isinstance(rows, list) else rows
    return frame.loc[:, list(FLAG_COLUMNS)].reset_index(drop=True)


def _recent(store: LabelledStore, batch_id: str, batch: pd.DataFrame, batches: int) -> pd.DataFrame:
    """The batch's rows and those of the ``batches`` batches accepted before it (where corrections are counted)."""
    order = [b for b in store.batch_order() if b != batch_id]  # oldest first
    recent = store.batches_rows(order[-batches:] if batches else [])
    return pd.concat([recent, batch], ignore_index=True)


def _write_parquet(path: UPath, frame: pd.DataFrame) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    write_bytes_atomic(path, buf.getvalue())


def _apply(store: LabelledStore, batch: pd.DataFrame, flagged: pd.DataFrame, weight: float,
           teach: np.ndarray) -> pd.DataFrame:
    """Take the held rows out of the batch's stored rows, give the down-weighted ones their weight and the others
    their ``teach`` multiplier, in one commit (again on a retry: each is idempotent); the batch's rows now stored."""
    if batch.empty:  # every row held already
        return batch
    held = batch["seq"].isin(flagged.loc[flagged["action"] == HELD, "seq"])
    lighter = batch["seq"].isin(flagged.loc[flagged["action"] == DOWN_WEIGHTED, "seq"])
    weights = np.where(lighter, weight, teach)
    if not held.any() and np.array_equal(weights, batch["label_weight"].to_numpy(dtype=float)):
        return batch
    batch = batch.copy()
    batch["label_weight"] = weights
    batch_id = batch["batch_id"].iloc[0]
    if held.all():
        store.drop_batch(batch_id)
    else:
        store.write_batch(batch_id, batch[~held].reset_index(drop=True))
    return batch[~held].reset_index(drop=True)


def _counts(flagged: pd.DataFrame) -> dict:
    actions = flagged["action"].value_counts()
    changes = (flagged["label"].astype(str) + " → " + flagged["suggested"].astype(str)).value_counts()
    return {"rows_flagged": len(flagged), "rows_held": int(actions.get(HELD, 0)),
            "rows_down_weighted": int(actions.get(DOWN_WEIGHTED, 0)), "rows_kept": int(actions.get(KEPT, 0)),
            "flagged_by_change": {k: int(v) for k, v in changes.items()},
            "examples": flagged.loc[:, ["raw_text", "label", "suggested", "confidence", "action", "reason"]]
            .head(_EXAMPLES).to_dict("records")}


def _update_ledger(layout: DataLayout, batch_id: str, flagged: pd.DataFrame) -> dict:
    """Move the held rows from the ledger's accepted (or superseding) rows to ``rows_held``, per file and in total
    (once: a retry finds ``rows_held`` set); the entry's counts."""
    ledger_file = layout.ledger / f"{batch_id}.json"
    entry = read_json(ledger_file)
    if "rows_held" not in entry:
        held = flagged[flagged["action"] == HELD]
        for part in [*entry["files"], entry]:
            mine = held if part is entry else held[held["source_file"] == part["file"]]
            superseding = int(mine["superseding"].sum())
            part.update(rows_held=len(mine), rows_accepted=part["rows_accepted"] - len(mine) + superseding,
                        rows_superseding=part["rows_superseding"] - superseding)
        entry["rows_flagged"] = len(flagged)
        if "rows_recent_holdout" in entry:
            entry["rows_recent_holdout"] -= int(held["recent_holdout"].astype(bool).sum())
        if not ledger_balances(entry):
            raise AssertionError(f"ledger of {batch_id} does not balance after the label check: {entry}")
        write_json_atomic(ledger_file, entry)
    return {k: entry[k] for k in ("rows_in", "rows_accepted", "rows_superseding", "rows_quarantined", "rows_held")}


def ledger_balances(entry: dict) -> bool:
    """rows in = new texts accepted + relabelled texts + rows quarantined + rows held for review."""
    return entry["rows_in"] == (entry["rows_accepted"] + entry["rows_superseding"] + entry["rows_quarantined"]
                                + entry.get("rows_held", 0))


def _disagreements(batch: pd.DataFrame, earlier: pd.DataFrame) -> dict:
    """Texts of this batch that another annotator labelled otherwise in an earlier batch (the newest label wins;
    counted and shown here). ``earlier``: the newest earlier row of each of the batch's texts."""
    if batch.empty:  # every row of it held
        return {"count": 0, "examples": []}
    last = earlier.set_index("text_hash")
    now = batch[batch["text_hash"].isin(last.index) & (batch["annotator"] != "")].reset_index(drop=True)
    before = last.loc[now["text_hash"]].reset_index(drop=True)
    differ = ((before["label"] != now["label"]) & (before["annotator"] != "")
              & (before["annotator"] != now["annotator"]))
    rows = [{"text": n.text, "label": n.label, "annotator": n.annotator, "earlier_label": b.label,
             "earlier_annotator": b.annotator, "earlier_batch": b.batch_id}
            for n, b in zip(now[differ].itertuples(), before[differ].itertuples(), strict=True)]
    return {"count": len(rows), "examples": rows[:_EXAMPLES]}
