"""Size against performance (thesis Fig. 3.5): inference parameters against weighted F1.

Two panels: the thesis's points (Tables 3.2 and 3.4, average WF1 over its 8 sets) and this
machine's rows of a CARE experiment (``results.json``: WF1 mean over seeds), since the two are on
different data and must not share an axis. :func:`row_parameters` counts a row's parameters at
inference from its options (a CARE graph is built to count; the acoustic FC is not counted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spokenemo.core.lazy import optional_import

#: Thesis points: (label, inference parameters, average WF1 over the 8 sets).
THESIS_POINTS: tuple[tuple[str, float, float], ...] = (
    ("PASE+", 8e6, 51.62), ("WavLM", 94e6, 59.3), ("HuBERT", 94e6, 59.5), ("data2vec", 94e6, 51.8),
    ("emotion2vec", 94e6, 58.7), ("acoustic+common", 94e6, 62.81), ("semantic+common", 110e6, 62.16),
    ("CARE", 160e6, 66.02), ("SONAR", 600e6, 39.1), ("Whisper-large-v3 enc.", 800e6, 41.63),
    ("Whisper + RoBERTa", 1.6e9, 42.23), ("teacher fusion", 1.6e9, 60.78), ("SALMONN-7B", 7e9, 65.2),
    ("SALMONN-13B", 13e9, 65.6))
#: Feature extractors without weights are drawn at this many parameters (log axis).
NO_WEIGHTS = 1e4


def row_parameters(options: Mapping[str, Any]) -> float:
    """Inference parameters of an experiment row (``care`` or ``ser`` options)."""
    model = str(options.get("model") or options.get("encoder") or "")
    if model.startswith(("care:", "care-init:")):
        torch_graph = optional_import("spokenemo.models.care.encoder", extra="llm", purpose="counting parameters")
        enc = torch_graph.care_encoder(model.partition("#")[0] + "#both")
        graph = enc.model
        layers = options.get("layers", "all")
        if layers == "all":
            return float(sum(p.numel() for p in graph.parameters()) - sum(p.numel() for p in graph.acoustic_fc.parameters()))
        chosen = set(int(i) for i in layers)
        n_lower = 1 + graph.config.n_common
        counted = sum(p.numel() for m in graph.speech.frontend_modules() for p in m.parameters())
        counted += sum(p.numel() for layer in list(graph.speech.layers)[:graph.config.n_common] for p in layer.parameters())
        if chosen & set(range(n_lower, n_lower + graph.config.n_acoustic)):
            counted += sum(p.numel() for layer in list(graph.speech.layers)[graph.config.n_common:] for p in layer.parameters())
        if max(chosen) >= n_lower + graph.config.n_acoustic:
            counted += sum(p.numel() for m in (graph.text, graph.down, graph.up) if m is not None for p in m.parameters())
        return float(counted)
    if model.startswith("whisper-base"):
        return 19.8e6
    return NO_WEIGHTS


def experiment_points(results: str | Path) -> list[tuple[str, float, float]]:
    """``(row, parameters, WF1 mean over seeds)`` of every finished row of ``results.json``."""
    data = json.loads(Path(results).read_text(encoding="utf-8"))
    by_row: dict[str, list[dict[str, Any]]] = {}
    for row in data["tasks"][0]["systems"]:
        if row.get("status") == "done":
            by_row.setdefault(row["name"], []).append(row)
    return [(name, row_parameters(rows[0]["options"]), 100 * float(np.mean([r["mean"]["weighted_f1"] for r in rows])))
            for name, rows in by_row.items()]


def size_performance_plot(points: Sequence[tuple[str, float, float]], out: str | Path, *,
                          title: str = "this machine") -> Path:
    """Write the two-panel scatter (thesis | ``points``) to ``out`` (PNG)."""
    fig = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(fig)
    for ax, pts, name in ((fig.add_subplot(1, 2, 1), THESIS_POINTS, "thesis (avg WF1, 8 sets)"),
                          (fig.add_subplot(1, 2, 2), list(points), title)):
        for label, params, wf1 in pts:
            ax.scatter(params, wf1, color="C3" if "CARE" in label or label.startswith("care") else "C0")
            ax.annotate(label, (params, wf1), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("parameters at inference")
        ax.set_ylabel("weighted F1 (%)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
