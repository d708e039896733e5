"""One static HTML page per run: for each clip an audio player, its cue plot, the predicted
emotion with probabilities, the cue text the model read, and the explanation.

The page references files next to it (``audio/*.wav``, ``plots/*.png``), so the folder can be
zipped, served by any static server, or opened straight from disk.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from spokenemo.core.fileio import atomic_write

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem} .sub{color:#666;margin-top:0}
.clip{border:1px solid #ddd;border-radius:8px;padding:1rem 1.2rem;margin:1.2rem 0}
.head{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
.file{font-family:ui-monospace,monospace;font-size:.9rem;color:#444}
.emo{font-size:1.3rem;font-weight:600} .ok{color:#1a7f37} .bad{color:#b42318}
.probs{display:flex;gap:.4rem;flex-wrap:wrap;margin:.4rem 0}
.bar{background:#eef;border-radius:4px;padding:.1rem .4rem;font-size:.85rem}
pre{white-space:pre-wrap;background:#f7f7f9;padding:.6rem;border-radius:6px;font-size:.85rem}
img{max-width:100%;border:1px solid #eee;border-radius:6px}
.why{line-height:1.45} .note{color:#8a5a00} .out{color:#666} .summary{font-size:1.05rem}
"""


@dataclass
class ClipResult:
    """What the page shows for one clip."""

    path: Path
    emotion: str
    probabilities: dict[str, float] = field(default_factory=dict)
    cue_text: str = ""
    explanation: str = ""
    transcript: str | None = None
    true_label: str | None = None
    plot: Path | None = None
    signal: np.ndarray | None = None  # 16 kHz mono; written as WAV so every browser can play it
    sample_rate: int = 16000
    #: the classes the model can answer; a true label outside them is shown, not marked wrong
    classes: Sequence[str] | None = None
    supports: list[str] = field(default_factory=list)
    opposes: list[str] = field(default_factory=list)
    note: str = ""  # e.g. "uncertain between sad and neutral"; the runner-up and what separates them
    baseline: str = ""  # what the cues were compared with

    @property
    def scored(self) -> bool:
        """Whether the clip counts in an accuracy: a true label the model could have answered."""
        in_set = self.classes is None or self.true_label in set(self.classes)
        return self.true_label is not None and in_set and bool(self.probabilities)

    @property
    def correct(self) -> bool:
        return self.scored and self.true_label == self.emotion


def _clip_html(i: int, clip: ClipResult, audio_rel: str | None, plot_rel: str | None) -> str:
    esc = html.escape
    verdict = ""
    if clip.scored:
        cls = "ok" if clip.correct else "bad"
        verdict = f' <span class="{cls}">(annotated: {esc(str(clip.true_label))})</span>'
    elif clip.true_label is not None:
        verdict = (f' <span class="out">(annotated: {esc(clip.true_label)}, outside the model\'s classes: '
                   "not scored)</span>")
    cues = "".join(f"<li>{esc(kind)}: {esc(text)}</li>" for kind, rows in (("supports", clip.supports),
                                                                         ("speaks against", clip.opposes))
                   for text in rows)
    probs = "".join(
        f'<span class="bar">{esc(k)} {v:.2f}</span>'
        for k, v in sorted(clip.probabilities.items(), key=lambda kv: -kv[1])
    )
    parts = [
        f'<section class="clip" id="clip{i}">',
        f'<div class="head"><span class="file">{esc(clip.path.name)}</span>'
        f'<span class="emo">{esc(clip.emotion)}{verdict}</span></div>',
        f'<div class="probs">{probs}</div>' if probs else "",
        f'<audio controls preload="none" src="{esc(audio_rel)}"></audio>' if audio_rel else "",
        f"<p><b>Transcript:</b> {esc(clip.transcript)}</p>" if clip.transcript else "",
        f'<p class="note">{esc(clip.note)}</p>' if clip.note else "",
        f"<p><b>Cues the model read:</b></p><pre>{esc(clip.cue_text)}</pre>" if clip.cue_text else "",
        f"<p><b>Evidence</b> (against {esc(clip.baseline)}):</p><ul>{cues}</ul>" if cues else "",
        f'<p class="why"><b>Why:</b> {esc(clip.explanation)}</p>' if clip.explanation else "",
        f'<img alt="cue plot of {esc(clip.path.name)}" src="{esc(plot_rel)}">' if plot_rel else "",
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def _summary_html(clips: Sequence[ClipResult]) -> str:
    """Accuracy over the clips the model could answer, and what was left out, at the top."""
    scored = [c for c in clips if c.scored]
    outside = sum(1 for c in clips if c.true_label is not None and not c.scored and c.probabilities)
    silent = sum(1 for c in clips if not c.probabilities)
    if not scored:
        return ""
    right = sum(c.correct for c in scored)
    extra = [f"{outside} with a label outside the model's classes (not scored)"] if outside else []
    extra += [f"{silent} without an answer (no speech)"] if silent else []
    rest = f"; {', '.join(extra)}" if extra else ""
    return (f'<p class="summary"><b>{right} of {len(scored)} clips right</b> '
            f"({100 * right / len(scored):.0f} %){html.escape(rest)}.</p>")


def write_explanation_page(
    clips: Sequence[ClipResult], out_dir: str | Path, *, title: str = "spokenemo: which emotion, and why",
    subtitle: str = "",
) -> Path:
    """Write ``index.html`` (plus ``audio/`` and ``plots/``) into ``out_dir``; return the page path.

    Parameters
    ----------
    clips : the results to show, in order.
    out_dir : folder for the page; created if needed.
    title, subtitle : page heading and a line under it (model, data, date).
    """
    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    sections = [_summary_html(clips)]
    for i, clip in enumerate(clips):
        audio_rel = plot_rel = None
        if clip.signal is not None:
            audio_rel = f"audio/{i:03d}-{clip.path.stem}.wav"
            sf.write(out / audio_rel, clip.signal, clip.sample_rate, subtype="PCM_16")
        if clip.plot is not None and Path(clip.plot).is_file():
            plot_rel = f"plots/{i:03d}-{clip.path.stem}.png"
            if Path(clip.plot).resolve() != (out / plot_rel).resolve():
                shutil.copyfile(clip.plot, out / plot_rel)
        sections.append(_clip_html(i, clip, audio_rel, plot_rel))
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>"
        + "\n".join(sections) + "</body></html>\n"
    )
    path = out / "index.html"
    with atomic_write(path) as fh:
        fh.write(page)
    return path
