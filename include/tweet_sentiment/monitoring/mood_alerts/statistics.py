"""The arithmetic of the mood alerts, on count vectors: no frames, no tables.

Words: the weighted log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin'
Words", eq. 16-22) of a word's use in the period against the trailing baseline, its z-score with the variance
widened by the between-period variance of a word's log-odds (tweets come in topical waves, so day-to-day use
varies more than multinomial sampling allows); the lift of a word in a class: how much more its log-odds rose there
than in the classes of the other sentiments; Benjamini-Hochberg over all the hypotheses of a check. Shares: an
interval around the baseline share that adds the between-period variance of the share to its binomial noise.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def dirichlet_prior(background: np.ndarray, weight: float) -> np.ndarray:
    """The informative prior's pseudo-counts: the background's word frequencies scaled to ``weight`` in all
    (every word gets at least a small share, so no log of zero)."""
    freq = (background + 0.5) / (background.sum() + 0.5 * len(background))
    return weight * freq


def log_odds(target: np.ndarray, reference: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(delta, its sampling variance) per word: the log-odds of each word in ``target`` minus in ``reference``
    (counts per word, aligned), each smoothed by the ``prior`` pseudo-counts (Monroe et al. eq. 16 and 18)."""
    alpha0, n_t, n_r = prior.sum(), target.sum(), reference.sum()
    a, b = target + prior, reference + prior
    delta = np.log(a / (n_t + alpha0 - a)) - np.log(b / (n_r + alpha0 - b))
    return delta, 1.0 / a + 1.0 / b


def log_odds_z(target: np.ndarray, reference: np.ndarray, prior: np.ndarray,
               between: float | np.ndarray = 0.0) -> np.ndarray:
    """The z-score of each word's log-odds ratio, target against reference; ``between``: the between-period
    variance of the words' log-odds (one, or one per word), added to the sampling variance (0: Monroe et al.'s
    z-score as published)."""
    delta, variance = log_odds(target, reference, prior)
    return delta / np.sqrt(variance + between)


def between_variance(periods: np.ndarray, prior: np.ndarray, min_total: int) -> np.ndarray:
    """Per word, the variance of its log-odds from period to period beyond sampling noise, estimated on the
    baseline: ``periods`` holds one row of word counts per baseline period; each period is compared with the others
    pooled (leave one out) and the excess of the squared log-odds over its sampling variance is averaged. A word's
    own average is noisy (a handful of periods), so it is shrunk half-way to the typical word's (the median over
    words used ``min_total`` times or more, robust to a real event's few words), which is also its floor: a word
    is never taken as steadier than the typical one. Zeros with fewer than two periods."""
    if len(periods) < 2:
        return np.zeros(periods.shape[1])
    total = periods.sum(axis=0)
    excess = np.zeros(periods.shape[1])
    for row in periods:
        delta, variance = log_odds(row, total - row, prior)
        excess += delta**2 - variance
    excess /= len(periods)
    used = total >= min_total
    typical = float(max(np.median(excess[used]), 0.0)) if used.any() else 0.0
    return np.maximum((typical + excess) / 2, typical)


def lift(target: np.ndarray, reference: np.ndarray, other_target: np.ndarray, other_reference: np.ndarray,
         prior: np.ndarray) -> np.ndarray:
    """Per word, its log-odds rise (target against reference) in one class minus its rise in other classes: near
    0 for a topic every class talks more about, large for a rise of that class's own."""
    return log_odds(target, reference, prior)[0] - log_odds(other_target, other_reference, prior)[0]


def benjamini_hochberg(p_values: np.ndarray, q: float) -> np.ndarray:
    """Which hypotheses are rejected with the false discovery rate held at ``q`` (Benjamini & Hochberg 1995)."""
    m = len(p_values)
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p_values)
    passed = p_values[order] <= q * np.arange(1, m + 1) / m
    reject = np.zeros(m, dtype=bool)
    if passed.any():
        reject[order[: int(np.nonzero(passed)[0].max()) + 1]] = True
    return reject


def upper_p(z: np.ndarray) -> np.ndarray:
    """One-sided p-values of z-scores (a rise)."""
    return stats.norm.sf(z)


def share_interval(counts: np.ndarray, totals: np.ndarray, tweets: int, level: float) -> tuple[float, float, float]:
    """(baseline share, low, high): where a period of ``tweets`` tweets' share of a class lies with probability
    ``level`` if nothing changed, given the class's ``counts`` in the baseline periods of ``totals`` tweets. Its
    variance is the binomial noise of the period plus the share's variance between baseline periods beyond their
    own binomial noise; the quantile is Student's t with one degree of freedom fewer than the periods."""
    share = float(counts.sum() / totals.sum())
    observed = counts / totals
    noise = share * (1 - share) / totals
    between = max(float(np.var(observed, ddof=1) - noise.mean()), 0.0) if len(totals) > 1 else 0.0
    spread = np.sqrt(between + share * (1 - share) / max(tweets, 1))
    quantile = stats.t.ppf(0.5 + level / 2, df=max(len(totals) - 1, 1))
    return share, max(share - quantile * spread, 0.0), min(share + quantile * spread, 1.0)
