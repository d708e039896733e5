"""What an experiment report says about AECoTD rows: their settings and the paper's tables.

:func:`settings_text` is the settings cell of a student row (seed, epochs, base config, training
limit, n, overrides, teacher coverage, time). :func:`paper_tables` adds, when the ablation rows
ran, the paper's Table 1 (ablations) and Table 4 (n sweep), with the paper's numbers beside ours
when the config asks for that comparison (``paper_reference``; see docs/methods/aecotd.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spokenemo.features.cue_vectors import N_SWEEP

#: The paper's IEMOCAP UA (5-fold leave-one-session-out, 4 classes), by our system names.
PAPER_IEMOCAP_UA: dict[str, float] = {
    "aecotd": 72.21, "aecotd-no-cot": 70.84, "aecotd-no-cot-no-fine": 68.78, "aecotd-text-only": 65.39,
    "aecotd-no-emotion-loss": 64.13, "aecotd-no-cot-n1": 68.78, "aecotd-no-cot-n3": 69.59,
    "aecotd-no-cot-n5": 70.00, "aecotd-no-cot-n7": 70.84, "aecotd-no-cot-n9": 70.51,
}
#: The paper's MELD out-of-domain WA (trained on IEMOCAP, MELD 4-class test).
PAPER_MELD_WA: dict[str, float] = {"aecotd": 54.59}

TABLE1 = ("aecotd", "aecotd-no-cot", "aecotd-no-cot-no-fine", "aecotd-text-only", "aecotd-no-emotion-loss")
METRIC_TITLES = {"ua": "UA", "wa": "WA"}


def settings_text(options: Mapping[str, Any], seed: int, settings: Mapping[str, Any],
                  folds: Sequence[Mapping[str, Any]]) -> str:
    """The settings cell of a student row."""
    s = settings
    bits = [f"seed {seed}"]
    epochs = s.get("epochs")
    if epochs is None and folds:  # the student config's own value, as trained
        epochs = folds[0].get("info", {}).get("student_config", {}).get("optim", {}).get("epochs")
    bits.append(f"epochs {epochs if epochs is not None else 'default'}")
    if s.get("config"):
        bits.append(f"base {s['config']}")
    if s.get("max_train_utterances"):
        bits.append(f"≤{s['max_train_utterances']} train utts/fold")
    n = options.get("n_segments")
    if n:
        bits.append(f"n={n}")
    for k, v in sorted((s.get("overrides") or {}).items()):
        bits.append(f"{k}={v}")
    data = [rec.get("info", {}).get("training", {}).get("data") for rec in folds]
    if options.get("cot") and data and all(data):
        # what the student trained on: the (possibly limited) training set and the items with CoT
        chosen = sum(d.get("subset") or d.get("train_keys", 0) for d in data)
        bits.append(f"{sum(d.get('items', 0) for d in data)} training items from {chosen} utterances, "
                    f"{sum(d.get('no_teacher', 0) for d in data)} without a valid teacher CoT")
    if s.get("explain"):
        bits.append(f"test utterances explained (≤{s['explain'].get('max_tokens')} tokens)")
    seconds = sum(float(rec.get("seconds", 0.0)) for rec in folds)
    if seconds:
        bits.append(f"{seconds:.0f} s train+predict")
    return ", ".join(bits)


def _row_settings(r: Any) -> str:
    return settings_text(r.system.options, r.seed, r.settings, r.folds)


def paper_tables(rows: Mapping[str, Any], experiment: Any, caption: Callable[[str], str],
                 summary: Callable[[Any, str], str]) -> list[str]:
    """Table 1 and Table 4 of the paper from the finished rows (each needs two rows or more)."""
    ref = experiment.paper_reference
    metric = "ua" if ref == "iemocap-ua" else "wa"
    paper = PAPER_IEMOCAP_UA if ref == "iemocap-ua" else PAPER_MELD_WA if ref == "meld-ood-wa" else {}
    head = f"paper ({'IEMOCAP UA' if ref == 'iemocap-ua' else 'MELD WA'})" if ref else None
    title = METRIC_TITLES[metric]
    lines: list[str] = []
    sweep = [(n, "aecotd-no-cot" if f"aecotd-no-cot-n{n}" not in rows else f"aecotd-no-cot-n{n}")
             for n in N_SWEEP]
    if sum(name in rows for name in TABLE1) >= 2:
        lines += ["", "### Ablations (paper Table 1)", "", caption(f"Ablations, {title}"),
                  "", "| system | ours " + title + (f" | {head}" if head else "") + " | settings |",
                  "|---|---|" + ("---|" if head else "") + "---|"]
        for name in TABLE1:
            if name in rows:
                r = rows[name]
                paper_cell = f" | {paper.get(name, '–')}" if head else ""
                lines.append(f"| {r.system.label} | {summary(r.aggregate, metric)}{paper_cell} | {_row_settings(r)} |")
    present = [(n, rows[name]) for n, name in sweep if name in rows
               and (rows[name].system.options.get("n_segments") or experiment.cues.n_segments) == n]
    if len(present) >= 2:
        lines += ["", "### Fine-cue segments n, without CoT (paper Table 4)", "",
                  caption(f"n sweep, {title}"), "",
                  "| n | ours " + title + (f" | {head}" if head else "") + " | settings |",
                  "|---|---|" + ("---|" if head else "") + "---|"]
        for n, r in present:
            paper_cell = f" | {paper.get(f'aecotd-no-cot-n{n}', '–')}" if head else ""
            lines.append(f"| {n} | {summary(r.aggregate, metric)}{paper_cell} | {_row_settings(r)} |")
    return lines
