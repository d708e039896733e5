"""Outputs of an experiment: results.json, report.md and confusion-matrix PNGs.

report.md follows the paper's layout: one table per task with the trained (seeded) systems'
rows first and the baselines under them (UA, WA, macro-F1, weighted-F1 as mean ± std over folds,
in percent), then any tables the systems add (AECoTD: the paper's Table 1 ablations and Table 4
n sweep, with the paper's IEMOCAP numbers beside ours when the config asks for that comparison),
then the faithfulness of the explanations of every system that explains its predictions
(:mod:`.explanations`: claims checked against each input's cue text), then the per-fold values
of each metric. Every table has a caption naming the protocol, the
classes, the fold count and the data, and every row carries its settings (as its system words
them: :meth:`spokenemo.systems.System.settings_text`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from spokenemo.core.fileio import atomic_write
from spokenemo.experiment.explanations import system_faithfulness
from spokenemo.experiment.layout import confusion_png
from spokenemo.experiment.results import ExperimentResult, SystemResult
from spokenemo.protocols import plot_confusion

METRIC_NAMES = {"ua": "UA", "wa": "WA", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"}


def _pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * x:.1f}"


def mean_std(agg: Any, metric: str) -> str:
    """``"63.9 ± 9.1"`` in percent; a single fold has no spread, so just its value."""
    if agg.n_folds == 1:
        return _pct(agg.mean[metric])
    return agg.summary(metric)


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return " ".join(str(text).replace("|", "/").split())


def _settings_text(r: SystemResult) -> str:
    return r.system.system_cls.settings_text(r.system.options, r.seed, r.settings, r.folds)


def _data_text(result: ExperimentResult, task_name: str) -> str:
    task = result.tasks[task_name]
    per_corpus = Counter(str(u.corpus) for u in task.utterances)
    speakers = {(u.corpus, u.speaker) for u in task.utterances if u.speaker}
    corpora = ", ".join(f"{c} ({n})" for c, n in sorted(per_corpus.items()))
    note = f"; {result.config.data_note}" if result.config.data_note else ""
    return f"{corpora}; {len(task.utterances)} utterances, {len(speakers)} speakers{note}"


def caption(result: ExperimentResult, task_name: str, what: str) -> str:
    """``Table: <what>. Protocol ..., classes ..., k folds, data ...`` for one task."""
    task = result.tasks[task_name]
    protocol = task.folds[0].protocol if task.folds else result.config.protocol.name
    indep = all(f.speaker_independent for f in task.folds)
    limit = result.meta.get("options", {}).get("test_limit")
    extra = f" Test parts subsampled to ≤{limit} utterances per fold (stratified)." if limit else ""
    dep = "" if indep else " Speakers are shared between train and test (official split)."
    n = len(task.folds)
    folds = f"{n} fold{'s' if n != 1 else ''}"
    if task.n_protocol_folds > n:
        folds = f"{n} of its {task.n_protocol_folds} folds ({', '.join(f.name for f in task.folds)})"
    return (f"*{what}. Protocol: {protocol}, {folds}; "
            f"classes ({len(task.labels)}): {', '.join(task.labels)}; data: {_data_text(result, task_name)}. "
            f"{'Mean ± std over folds (population std)' if len(task.folds) > 1 else 'One fold'}, percent.{dep}{extra}*")


def _rows(result: ExperimentResult, task_name: str) -> list[SystemResult]:
    rows = result.results[task_name]
    return [r for r in rows if r.system.seeded] + [r for r in rows if not r.system.seeded]


def _main_table(result: ExperimentResult, task_name: str) -> list[str]:
    lines = [caption(result, task_name, f"{result.config.name}, {task_name}"), "",
             "| system | " + " | ".join(METRIC_NAMES.values()) + " | settings |",
             "|---|" + "---|" * (len(METRIC_NAMES) + 1)]
    for r in _rows(result, task_name):
        if r.aggregate is None:
            lines.append(f"| {r.system.label} | " + " | ".join("–" for _ in METRIC_NAMES)
                         + f" | {r.status}: {_cell(r.note)} |")
            continue
        cells = [mean_std(r.aggregate, m) for m in METRIC_NAMES]
        note = _cell(_settings_text(r) + (f"; {r.status}: {r.note}" if r.status != "done" else ""))
        lines.append(f"| {r.system.label} | " + " | ".join(cells) + f" | {note} |")
    return lines


def _per_fold_tables(result: ExperimentResult, task_name: str) -> list[str]:
    task = result.tasks[task_name]
    folds = [f.name for f in task.folds]
    lines: list[str] = []
    for metric, title in METRIC_NAMES.items():
        lines += ["", caption(result, task_name, f"{title} per fold"), "",
                  "| system | " + " | ".join(folds) + " | mean ± std |", "|---|" + "---|" * (len(folds) + 1)]
        for r in _rows(result, task_name):
            if r.aggregate is None:
                continue
            by_fold = {rec["fold"]: rec["metrics"][metric] for rec in r.folds}
            cells = [_pct(by_fold.get(f)) for f in folds]
            lines.append(f"| {r.system.label} | " + " | ".join(cells)
                         + f" | {mean_std(r.aggregate, metric)} |")
    return lines


def _system_tables(result: ExperimentResult, task_name: str) -> list[str]:
    """The extra tables of each system of the task (:meth:`spokenemo.systems.System.report_tables`)."""
    rows = {r.system.name: r for r in result.results[task_name] if r.aggregate is not None}
    classes = list(dict.fromkeys(r.system.system_cls for r in result.results[task_name]))
    lines: list[str] = []
    for cls in classes:
        lines += cls.report_tables(rows, result.config, lambda what: caption(result, task_name, what), mean_std)
    return lines


def _pooled(text: str) -> str:
    """A caption whose numbers are pooled over the folds (not a mean over folds)."""
    for tail in ("Mean ± std over folds (population std), percent.", "One fold, percent."):
        text = text.replace(tail, "Claims pooled over the folds, percent.")
    return text


def _faithfulness_table(result: ExperimentResult, task_name: str) -> list[str]:
    """Faithfulness of each explaining row's explanations (none: no lines).

    "empty" counts test utterances whose explanation has no text; the per-explanation columns
    count the non-empty ones, "verifiable / utterance" all of them.
    """
    lines: list[str] = []
    notes: list[str] = []
    for r in _rows(result, task_name):
        summary, problems = system_faithfulness(result.out_dir, r.folds)
        notes += [f"{r.system.label}: {p}" for p in problems]
        if summary is None:
            continue
        d = summary.to_dict()
        agree = "–" if d["agreement"] is None else f"{100 * d['agreement']:.1f}"
        mean = "–" if d["mean_agreement"] is None else f"{100 * d['mean_agreement']:.1f}"
        total = d["explanations"] + d["without_text"]
        per_utt = f"{d['verifiable'] / total:.2f}" if total else "–"
        lines.append(f"| {r.system.label} | {total} | {d['without_text']} | {agree} | {mean} | "
                     f"{d['claims_per_explanation']:.2f} | {d['verifiable_per_explanation']:.2f} | {per_utt} | "
                     f"{d['contradict']} | {d['not_supported']} | {d['unverifiable']} | {d['without_claims']} |")
    if not lines:
        return ["", f"Notes on explanations: {'; '.join(notes)}"] if notes else []
    head = ["", "### Faithfulness of the explanations", "",
            _pooled(caption(result, task_name, "Cue claims in each system's explanations of the test utterances, "
                                               "checked against the cue text of the same input (spokenemo "
                                               "faithfulness)")), "",
            "| system | test utterances | empty | agreement % (verifiable claims) | mean % per explanation | "
            "claims / expl. | verifiable / expl. | verifiable / utterance | contradict | not supported | "
            "unverifiable | name no cue |",
            "|---|" + "---|" * 11]
    return head + lines + (["", f"Notes on explanations: {'; '.join(notes)}"] if notes else [])


def _fold_legend(result: ExperimentResult, task_name: str) -> list[str]:
    task = result.tasks[task_name]
    lines = ["", f"Folds of {task_name}:", "", "| fold | train | test | tested on |", "|---|---|---|---|"]
    for f in task.folds:
        info = dict(f.info)
        tested = (info.get("test_speakers") or info.get("test_session") or info.get("test_corpora")
                  or info.get("test_set") or info.get("test_split") or "")
        if isinstance(tested, list | tuple):
            tested = ", ".join(map(str, tested))
        lines.append(f"| {f.name} | {len(f.train)} | {len(f.test)} | {_cell(tested)} |")
    return lines


def render_report(result: ExperimentResult) -> str:
    """The Markdown report of an experiment."""
    cfg, meta = result.config, result.meta
    lines = [f"# Experiment: {cfg.name}", ""]
    if cfg.description:
        lines += [cfg.description.strip(), ""]
    lines += [f"- config: `{meta.get('config_path')}` (hash `{meta['config_hash']}`)",
              f"- seeds: {meta['seeds']}; primary metric: {METRIC_NAMES[cfg.metric]}",
              f"- run time: {meta['wall_seconds']} s (this invocation; finished folds are reused)",
              "- packages: " + ", ".join(f"{k} {v}" for k, v in meta["package_versions"].items()), ""]
    for task_name in result.tasks:
        lines += [f"## {task_name}", ""]
        lines += _main_table(result, task_name)
        lines += _system_tables(result, task_name)
        lines += _faithfulness_table(result, task_name)
        lines += _per_fold_tables(result, task_name)
        lines += _fold_legend(result, task_name)
        skipped = [r for r in result.results[task_name] if r.status != "done"]
        if skipped:
            lines += ["", "Notes:"] + [f"- {r.system.label}: {r.status} — {_cell(r.note)}" for r in skipped]
        pngs = [confusion_png(task_name, r.system.name, r.seed) for r in _rows(result, task_name)
                if r.aggregate is not None]
        if pngs:
            lines += ["", "Confusion matrices (pooled over folds): " + ", ".join(f"[{p}]({p})" for p in pngs)]
        lines.append("")
    return "\n".join(lines)


def results_json(result: ExperimentResult) -> dict[str, Any]:
    """The content of results.json: every fold, every metric, and what produced them."""
    cfg = result.config
    tasks = []
    for name, task in result.tasks.items():
        systems = []
        for r in result.results[name]:
            agg = r.aggregate
            systems.append({
                **r.system.to_json(), "seed": r.seed, "status": r.status, "note": r.note, "settings": r.settings,
                "mean": agg.to_dict()["mean"] if agg else None, "std": agg.to_dict()["std"] if agg else None,
                "recall_mean": agg.to_dict()["recall_mean"] if agg else None,
                "pooled": agg.pooled.to_dict() if agg else None,
                "per_fold": [{k: v for k, v in rec.items() if k not in ("predictions", "system")} for rec in r.folds],
            })
            faithful, _ = system_faithfulness(result.out_dir, r.folds)
            if faithful is not None:
                systems[-1]["faithfulness"] = faithful.to_dict()
        tasks.append({
            "label_set": name, "classes": task.labels, "protocol": task.folds[0].protocol if task.folds else None,
            "n_folds": len(task.folds), "n_protocol_folds": task.n_protocol_folds or len(task.folds),
            "speaker_independent": all(f.speaker_independent for f in task.folds),
            "n_utterances": len(task.utterances),
            "class_counts": task.utterances.counts(),
            "corpora": dict(Counter(str(u.corpus) for u in task.utterances)),
            "folds": [{"name": f.name, "n_train": len(f.train), "n_valid": len(f.valid), "n_test": len(f.test),
                       "info": dict(f.info)} for f in task.folds],
            "systems": systems,
        })
    return {"experiment": cfg.name, "description": cfg.description, "config_hash": meta_hash(result),
            "protocol": cfg.protocol.name, "metric": cfg.metric, "seeds": result.meta["seeds"],
            "config": cfg.model_dump(mode="json"), "meta": result.meta, "tasks": tasks}


def meta_hash(result: ExperimentResult) -> str:
    return str(result.meta["config_hash"])


def write_outputs(result: ExperimentResult) -> dict[str, Path]:
    """Write results.json, report.md and one pooled confusion PNG per system and task."""
    out = result.out_dir
    paths: dict[str, Path] = {}
    for task_name, task in result.tasks.items():
        for r in result.results[task_name]:
            if r.aggregate is None:
                continue
            png = out / confusion_png(task_name, r.system.name, r.seed)
            pooled = r.aggregate.pooled
            span = f"pooled over {len(r.folds)} folds" if len(r.folds) > 1 else "1 fold"
            title = (f"{result.config.name} {task_name}: {r.system.name}\n{task.folds[0].protocol}, {span}, "
                     f"{METRIC_NAMES[result.config.metric]} {mean_std(r.aggregate, result.config.metric)}")
            plot_confusion(pooled.confusion, pooled.labels, png, title=title, invalid=pooled.invalid)
            paths[f"{task_name}/{r.system.name}/{r.seed}"] = png
    with atomic_write(out / "results.json") as fh:
        json.dump(results_json(result), fh, ensure_ascii=False, indent=1, default=str)
        fh.write("\n")
    with atomic_write(out / "report.md") as fh:
        fh.write(render_report(result))
    paths["results"] = out / "results.json"
    paths["report"] = out / "report.md"
    return paths
