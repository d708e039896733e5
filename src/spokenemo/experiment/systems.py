"""The systems an experiment compares: student variants and baselines, by name.

A system is a :class:`SystemSpec`: a unique ``name``, a ``kind`` and the options of that kind.
Configs list systems either by a preset name (``"cue-lr-speaker-z"``) or as a mapping
``{name: my-lr, kind: cue-lr, speaker_z: true, fine: false}``.

Kinds and their options
-----------------------
``student``
    The AECoTD student. ``cot`` (train on ``label<think>reasoning</think>`` targets),
    ``coarse``/``fine`` (cue lines in the prompt; the transcript is always there),
    ``emotion_loss`` (label weight 1, other target tokens 0.01; False = plain cross-entropy),
    ``n_segments`` (overrides the config's cue segments).
``cue-lr``
    Logistic regression (balanced class weights, standardised on the training part) on the
    same cue numbers the student reads: 4 coarse + 2 x n fine. ``speaker_z`` standardises each
    speaker by its own statistics first; ``coarse``/``fine`` pick the blocks; ``n_segments``.
``egemaps-svm``
    eGeMAPSv02 functionals (88, openSMILE) + linear SVM (``C`` = 0.01, balanced); ``speaker_z``.
``majority``
    Always the most frequent training class.
``tfidf-lr``
    TF-IDF of the transcript (word 1-2 grams) + logistic regression (balanced class weights
    unless ``balanced: false``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

KINDS: dict[str, dict[str, Any]] = {
    "student": {"cot": True, "coarse": True, "fine": True, "emotion_loss": True, "n_segments": None},
    "cue-lr": {"speaker_z": False, "coarse": True, "fine": True, "n_segments": None, "C": 1.0},
    "egemaps-svm": {"speaker_z": False, "C": 0.01},
    "majority": {},
    "tfidf-lr": {"C": 1.0, "ngram_max": 2, "min_df": 1, "balanced": True},
}

#: Kinds that need audio features (skipped, with a note, for text-only corpora).
AUDIO_KINDS = frozenset({"cue-lr", "egemaps-svm"})


@dataclass(frozen=True)
class SystemSpec:
    """One system of an experiment.

    Parameters
    ----------
    name : str
        Unique within the experiment; used in file names and report rows.
    kind : str
        A key of :data:`KINDS`.
    options : mapping
        The kind's options, defaults filled in.
    label : str
        Row label for reports (defaults to the name).
    """

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        if not self.label:
            object.__setattr__(self, "label", self.name)

    @property
    def is_student(self) -> bool:
        return self.kind == "student"

    @property
    def is_baseline(self) -> bool:
        return self.kind != "student"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "options": dict(self.options), "label": self.label}


def _spec(name: str, kind: str, label: str = "", **options: Any) -> SystemSpec:
    return SystemSpec(name, kind, {**KINDS[kind], **options}, label)


PRESETS: dict[str, SystemSpec] = {s.name: s for s in (
    _spec("aecotd", "student", "AECoTD student (CoT + coarse + fine, emotion loss)"),
    _spec("student-text-only", "student", "student, transcript only (no cues, no CoT)",
          cot=False, coarse=False, fine=False),
    _spec("cue-lr", "cue-lr", "cue numbers + logistic regression"),
    _spec("cue-lr-speaker-z", "cue-lr", "cue numbers (per-speaker z) + logistic regression", speaker_z=True),
    _spec("cue-lr-coarse", "cue-lr", "4 coarse cue numbers + logistic regression", fine=False),
    _spec("egemaps-svm", "egemaps-svm", "eGeMAPS functionals + linear SVM"),
    _spec("egemaps-svm-speaker-z", "egemaps-svm", "eGeMAPS functionals (per-speaker z) + linear SVM",
          speaker_z=True),
    _spec("majority", "majority", "majority class"),
    _spec("tfidf-lr", "tfidf-lr", "transcript TF-IDF + logistic regression"),
    _spec("tfidf-lr-unbalanced", "tfidf-lr", "transcript TF-IDF + logistic regression (unweighted classes)",
          balanced=False),
)}

#: The n values of the paper's Table 4 (fine-cue segments, without CoT).
N_SWEEP = (1, 3, 5, 7, 9)


def ablation_systems(n_default: int = 7) -> list[SystemSpec]:
    """Table 1's ablations (cumulative, as in the paper) and Table 4's n sweep without CoT.

    ``aecotd-no-cot`` uses the config's ``n_default`` segments; the sweep entry with the same
    n is that system already and is not repeated.
    """
    out = [
        _spec("aecotd-no-cot", "student", "w/o CoT", cot=False),
        _spec("aecotd-no-cot-no-fine", "student", "w/o CoT, fine cues", cot=False, fine=False),
        _spec("aecotd-text-only", "student", "w/o CoT, fine, coarse cues (text only)", cot=False, fine=False,
              coarse=False),
        _spec("aecotd-no-emotion-loss", "student", "w/o emotion-focused loss", emotion_loss=False),
    ]
    for n in N_SWEEP:
        if n != n_default:
            out.append(_spec(f"aecotd-no-cot-n{n}", "student", f"w/o CoT, n = {n}", cot=False, n_segments=n))
    return out


def resolve_system(entry: str | Mapping[str, Any]) -> SystemSpec:
    """A :class:`SystemSpec` from a preset name or a mapping with ``name``, ``kind`` and options.

    Raises
    ------
    ValueError
        Unknown preset, kind or option (the message lists the valid ones); pydantic turns it
        into a field error of the config.
    """
    if isinstance(entry, str):
        if entry in PRESETS:
            return PRESETS[entry]
        for spec in ablation_systems():
            if spec.name == entry:
                return spec
        if entry.startswith("aecotd-no-cot-n") and entry[15:].isdigit():
            n = int(entry[15:])
            return _spec(entry, "student", f"w/o CoT, n = {n}", cot=False, n_segments=n)
        raise ValueError(f"unknown system {entry!r}; presets: {', '.join(PRESETS)} "
                         "(or a mapping with name, kind and options)")
    if not isinstance(entry, Mapping):
        raise ValueError(f"a system is a preset name or a mapping, got {type(entry).__name__}")
    entry = dict(entry)
    name, kind = entry.pop("name", None), entry.pop("kind", None)
    label = str(entry.pop("label", "") or "")
    if not name or not isinstance(name, str):
        raise ValueError("a system mapping needs a name")
    if kind is None and name in PRESETS:  # a preset with options changed
        base = PRESETS[name]
        kind, entry = base.kind, {**base.options, **entry}
        label = label or base.label
    if kind not in KINDS:
        raise ValueError(f"system {name!r}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    bad = sorted(set(entry) - set(KINDS[kind]))
    if bad:
        raise ValueError(f"system {name!r} ({kind}): unknown option(s) {bad}; options: "
                         f"{', '.join(KINDS[kind]) or '(none)'}")
    spec = _spec(name, kind, label, **entry)
    if kind == "cue-lr" and not (spec.options["coarse"] or spec.options["fine"]):
        raise ValueError(f"system {name!r}: cue-lr needs coarse or fine cues")
    return spec
