"""Fitting the shipped recogniser (:mod:`spokenemo.systems.ser.recogniser`) on pooled encoder rows.

For each head (``global``: rows z-scored with the training statistics; ``speaker``: each speaker
z-scored with their own statistics) the steps are:

1. **folds by speaker**: the training speakers are split into ``n_folds`` groups, each corpus's
   speakers spread over the groups by a seeded order, so every fold holds out whole speakers of
   every corpus (no speaker is ever in both parts);
2. **C chosen on held-out speakers and held-out corpora**: for each C of the grid, every fold's
   speakers are predicted by a probe trained on the other folds (unweighted accuracy, UA, of
   these out-of-fold predictions), and, with several corpora, each corpus by a probe trained on
   the others (leave-one-corpus-out UA, averaged over corpora). The C with the best mean of the
   two wins: the recogniser is meant for speakers *and* recording chains it never heard, and a
   C chosen on held-out speakers alone prefers weak regularisation that transfers badly to a new
   corpus. The same predictions are the model card's numbers, so those are a little optimistic
   (the C was chosen on them among ``len(grid)`` values): the card says so;
3. **temperature** fitted on the out-of-fold logits of the chosen C (NLL), ECE before and after;
4. the head is refitted on every training row with the chosen C.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spokenemo.core.errors import SpokenemoError
from spokenemo.core.sampling import seeded_rank
from spokenemo.features.encoded.normalise import GLOBAL, SPEAKER, Standardiser
from spokenemo.protocols.calibration import apply_temperature, expected_calibration_error, fit_temperature
from spokenemo.protocols.metrics import compute_metrics
from spokenemo.systems.ser.probe import Probe
from spokenemo.systems.ser.recogniser import LinearHead, Recogniser

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingRows:
    """Flat pooled rows with their labels, speakers (unique across corpora) and corpora."""

    X: np.ndarray
    labels: list[str]
    speakers: list[str]
    corpora: list[str]

    def __post_init__(self) -> None:
        n = len(self.X)
        if not (len(self.labels) == len(self.speakers) == len(self.corpora) == n) or n == 0:
            raise SpokenemoError(f"recogniser training: {n} rows, {len(self.labels)} labels, "
                                 f"{len(self.speakers)} speakers, {len(self.corpora)} corpora (need equal, > 0)")

    def subset(self, rows: Sequence[int]) -> TrainingRows:
        idx = list(rows)
        return TrainingRows(self.X[idx], [self.labels[i] for i in idx], [self.speakers[i] for i in idx],
                            [self.corpora[i] for i in idx])


def speaker_folds(rows: TrainingRows, n_folds: int, seed: int = 0) -> list[list[int]]:
    """Row indices of ``n_folds`` held-out speaker groups (see the module docstring)."""
    group: dict[str, int] = {}
    for corpus in sorted(set(rows.corpora)):
        speakers = sorted({s for s, c in zip(rows.speakers, rows.corpora, strict=True) if c == corpus},
                          key=lambda s: seeded_rank(s, seed))
        start = len(group)  # continue the round-robin where the previous corpus stopped
        for i, s in enumerate(speakers):
            group[s] = (start + i) % n_folds
    folds = [[i for i, s in enumerate(rows.speakers) if group[s] == k] for k in range(n_folds)]
    return [f for f in folds if f]


def standardise(rows: TrainingRows, how: str, reference: Standardiser, min_segments: int) -> np.ndarray:
    """``rows.X`` z-scored: global statistics of ``reference``, or each speaker's own (``speaker``)."""
    rule = Standardiser(min_segments if how == SPEAKER else None, mean=reference.mean, std=reference.std)
    Z, used = rule.transform(rows.X, rows.speakers)
    if how == SPEAKER and GLOBAL in used:
        short = sorted({s for s, u in zip(rows.speakers, used, strict=True) if u == GLOBAL})
        raise SpokenemoError(f"speaker head: speakers {short[:5]} have fewer than {min_segments} segments",
                             hint="train the speaker head only on speakers with enough segments")
    return Z


def fit_head(rows: TrainingRows, how: str, C: float, classes: Sequence[str], *, min_segments: int,
             seed: int = 0) -> LinearHead:
    """One head on ``rows`` (temperature 1), columns in ``classes`` order."""
    reference = Standardiser().fit(rows.X)
    probe = Probe.fit(standardise(rows, how, reference, min_segments), rows.labels, C=C, seed=seed)
    order = [probe.classes.index(c) for c in classes]
    return LinearHead(reference.mean, reference.std, probe.coef[order], probe.intercept[order])


def held_out_logits(rows: TrainingRows, folds: Sequence[Sequence[int]], how: str, C: float,
                    classes: Sequence[str], *, min_segments: int, seed: int = 0) -> np.ndarray:
    """Logits of every row from the head trained without its fold."""
    out = np.zeros((len(rows.X), len(classes)))
    for test in folds:
        keep = sorted(set(range(len(rows.X))) - set(test))
        head = fit_head(rows.subset(keep), how, C, classes, min_segments=min_segments, seed=seed)
        held = rows.subset(test)
        # the held-out speakers bring their own statistics (speaker head) or meet the training ones
        reference = Standardiser(mean=head.mean, std=head.std)
        out[list(test)] = head.logits(standardise(held, how, reference, min_segments))
    return out


def ua_of(labels: Sequence[str], probs: np.ndarray, classes: Sequence[str]) -> float:
    predicted = [classes[i] for i in np.argmax(probs, axis=1)]
    return float(compute_metrics(list(labels), predicted, labels=list(classes)).ua)


def choose_head(rows: TrainingRows, how: str, classes: Sequence[str], *, grid: Sequence[float], n_folds: int,
                min_segments: int, seed: int, progress: Progress) -> tuple[LinearHead, dict[str, Any]]:
    """C by held-out speakers (and held-out corpora), temperature on the held-out logits, then the head
    on all rows (module docstring)."""
    folds = speaker_folds(rows, n_folds, seed)
    several = len(set(rows.corpora)) > 1
    scores, loco, logits = {}, {}, {}
    for C in grid:
        progress(f"{how} head: C={C}, {len(folds)} speaker folds" + (", each corpus held out" if several else ""))
        logits[C] = held_out_logits(rows, folds, how, C, classes, min_segments=min_segments, seed=seed)
        scores[C] = 100 * ua_of(rows.labels, logits[C], classes)
        if several:
            loco[C] = leave_one_corpus_out(rows, how, C, classes, min_segments=min_segments, seed=seed)

    def score(c: float) -> float:  # the selection criterion
        return (scores[c] + float(np.mean(list(loco[c].values())))) / 2 if several else scores[c]

    best = max(grid, key=lambda c: (round(score(c), 6), -c))
    y = [list(classes).index(label) for label in rows.labels]
    temperature = fit_temperature(logits[best], y, kind="logits")
    raw = apply_temperature(logits[best], 1.0, kind="logits")
    cal = apply_temperature(logits[best], temperature, kind="logits")
    head = fit_head(rows, how, best, classes, min_segments=min_segments, seed=seed)
    head.temperature = float(temperature)
    report = {"C_grid_ua": {str(c): round(scores[c], 2) for c in grid}, "C": best,
              "selection": "mean of held-out-speaker UA and mean leave-one-corpus-out UA" if several
              else "held-out-speaker UA",
              "held_out_ua": round(scores[best], 2), "n_folds": len(folds),
              "per_corpus_ua": per_corpus_ua(rows, cal, classes), "temperature": round(float(temperature), 4),
              "ece_before": round(expected_calibration_error(raw, y), 4),
              "ece_after": round(expected_calibration_error(cal, y), 4)}
    if several:
        report["C_grid_loco_ua"] = {str(c): round(float(np.mean(list(loco[c].values()))), 2) for c in grid}
        report["leave_one_corpus_out_ua"] = loco[best]
    return head, report


def per_corpus_ua(rows: TrainingRows, probs: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    out = {}
    for corpus in sorted(set(rows.corpora)):
        idx = [i for i, c in enumerate(rows.corpora) if c == corpus]
        out[corpus] = round(100 * ua_of([rows.labels[i] for i in idx], probs[idx], classes), 2)
    return out


def leave_one_corpus_out(rows: TrainingRows, how: str, C: float, classes: Sequence[str], *, min_segments: int,
                         seed: int = 0) -> dict[str, float]:
    """UA on each corpus with a head trained on the others (chosen C): unseen corpus, language, chain."""
    out = {}
    for corpus in sorted(set(rows.corpora)):
        test = [i for i, c in enumerate(rows.corpora) if c == corpus]
        train = [i for i, c in enumerate(rows.corpora) if c != corpus]
        if not train:
            continue
        head = fit_head(rows.subset(train), how, C, classes, min_segments=min_segments, seed=seed)
        held = rows.subset(test)
        logits = head.logits(standardise(held, how, Standardiser(mean=head.mean, std=head.std), min_segments))
        out[corpus] = round(100 * ua_of(held.labels, logits, classes), 2)
    return out


def fit_recogniser(rows: TrainingRows, classes: Sequence[str], *, encoder: str = "whisper-base",
                   layers: str | list[int] = "all", pooling: str = "mean+std", grid: Sequence[float] = (0.1, 1.0),
                   n_folds: int = 5, min_segments: int = 10, seed: int = 0,
                   progress: Progress | None = None) -> tuple[Recogniser, dict[str, Any]]:
    """Both heads, chosen and calibrated as the module docstring says; returns the recogniser and
    the report the model card is written from."""
    say = progress or (lambda _msg: None)
    unknown = sorted(set(rows.labels) - set(classes))
    if unknown:
        raise SpokenemoError(f"recogniser training: labels {unknown} are not among the classes {list(classes)}")
    heads, report = {}, {}
    for how in (GLOBAL, SPEAKER):
        heads[how], report[how] = choose_head(rows, how, classes, grid=grid, n_folds=n_folds,
                                              min_segments=min_segments, seed=seed, progress=say)
    recogniser = Recogniser(list(classes), heads, encoder, layers, pooling, min_segments)
    return recogniser, report
