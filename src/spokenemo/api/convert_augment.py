"""The thesis Table 5.6 analogue: few training clips per class, plus converted speech, on unseen actors.

Protocol (thesis.md 6.6 evidence 4): test = RAVDESS actors 17-20 (never heard by the converter),
4 classes (angry, happy, neutral, sad); training = ``per_class`` clips per class drawn (seeded) from
actors 01-16. Augmentation: ``n_sources`` neutral clips of actors 01-16 converted with ``n_refs``
references per emotional class (also actors 01-16), ranked by Emo-Sim and the top ``top_k`` per class
added with the reference's label. Emo-Sim for the ranking is the cosine of the converter's own ``e_bar``
of reference and conversion (the shipped recogniser has heard actors 17-20, so it is not used to pick
training data). Classifier: every Whisper-base layer's mean and std over frames (the recogniser's
features, no heads), standardised, logistic regression (C = 0.01, balanced). Conversions are made once;
the seeds redraw the ``per_class`` real clips. Metric: weighted F1 on the test actors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from spokenemo.api.convert import load_converter
from spokenemo.api.recogniser import load_recogniser
from spokenemo.audio import load_audio
from spokenemo.core.sampling import seeded_rank
from spokenemo.protocols.metrics import compute_metrics
from spokenemo.systems.zest.corpus import Clip, ravdess_clips, select

CLASSES = ("angry", "happy", "neutral", "sad")
SR = 16000


def _features(rec: Any, waves: Sequence[np.ndarray]) -> np.ndarray:
    return rec.features(list(waves), SR)


def _conversions(conv: Any, sources: Sequence[Clip], refs: dict[str, list[Clip]], top_k: int
                 ) -> dict[str, list[np.ndarray]]:
    """Top-``top_k`` conversions per class by Emo-Sim (cosine of the converter's ``e_bar``)."""
    an = {c.path: conv.analyser.analyse(load_audio(c.path, sr=SR), c.path) for c in [*sources, *sum(refs.values(), [])]}
    out: dict[str, list[np.ndarray]] = {}
    for emo, rs in refs.items():
        scored = []
        for s in sources:
            wave = load_audio(s.path, sr=SR)
            for r in rs:
                y = conv.convert_analysed(wave, an[s.path], an[r.path]).wave
                e_ref = conv.emotion_frames(an[r.path])[1].numpy()[0]
                e_conv = conv.emotion_frames(conv.analyser.analyse(y))[1].numpy()[0]
                scored.append((float(np.dot(e_ref, e_conv) / (np.linalg.norm(e_ref) * np.linalg.norm(e_conv))), y))
        scored.sort(key=lambda t: -t[0])
        out[emo] = [y for _, y in scored[:top_k]]
    return out


def _fit_score(x_tr: np.ndarray, y_tr: list[str], x_te: np.ndarray, y_te: list[str]) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, class_weight="balanced", max_iter=3000))
    clf.fit(x_tr, y_tr)
    return 100.0 * compute_metrics(y_te, list(clf.predict(x_te)), list(CLASSES)).weighted_f1


def augmentation(converter: Any = None, ravdess_root: str = "../shared/data/ravdess", *, per_class: int = 10,
                 n_sources: int = 10, n_refs: int = 5, top_k: int = 10, seeds: Sequence[int] = (0, 1, 2, 3, 4)
                 ) -> dict[str, Any]:
    """WF1 (%) per seed without and with the converted clips (module docstring)."""
    conv = load_converter(converter)
    rec = load_recogniser()
    clips = ravdess_clips(ravdess_root)
    train_actors = [f"{i:02d}" for i in range(1, 17)]
    pool = select(clips, actors=train_actors, emotions=list(CLASSES))
    test = select(clips, actors=["17", "18", "19", "20"], emotions=list(CLASSES))
    rank = sorted(pool, key=lambda c: seeded_rank(f"aug-src:{c.key}", 99))
    sources = [c for c in rank if c.emotion == "neutral"][:n_sources]
    refs = {e: [c for c in rank if c.emotion == e and c.intensity == "02"][:n_refs] for e in CLASSES if e != "neutral"}
    added = _conversions(conv, sources, refs, top_k)
    x_aug = _features(rec, [y for ys in added.values() for y in ys])
    y_aug = [e for e, ys in added.items() for _ in ys]
    x_te = _features(rec, [load_audio(c.path, sr=SR) for c in test])
    y_te = [c.emotion for c in test]
    cache: dict[str, np.ndarray] = {}
    rows = []
    for seed in seeds:
        picked = [c for e in CLASSES for c in sorted((c for c in pool if c.emotion == e and c not in sources),
                                                      key=lambda c: seeded_rank(c.key, seed))[:per_class]]
        for c in picked:
            if c.key not in cache:
                cache[c.key] = _features(rec, [load_audio(c.path, sr=SR)])[0]
        x_tr = np.stack([cache[c.key] for c in picked])
        y_tr = [c.emotion for c in picked]
        rows.append({"seed": seed, "no_aug": _fit_score(x_tr, y_tr, x_te, y_te),
                     "aug": _fit_score(np.vstack([x_tr, x_aug]), y_tr + y_aug, x_te, y_te)})
    no_aug, aug = np.array([r["no_aug"] for r in rows]), np.array([r["aug"] for r in rows])
    return {"rows": rows, "no_aug_mean": float(no_aug.mean()), "no_aug_std": float(no_aug.std()),
            "aug_mean": float(aug.mean()), "aug_std": float(aug.std()), "added_per_class": top_k,
            "per_class": per_class, "test_clips": len(test)}
