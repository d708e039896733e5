"""Checks of the trained analysis modules (thesis.md 6.6 evidence 1 and 2).

- :func:`probe_embeddings`: a logistic probe trained on the training clips' embeddings and scored on
  held-out clips of the same speakers: emotion from ``s`` (lower with the emotion-adversarial head),
  speaker from ``e_bar`` (lower with the speaker-adversarial head).
- :func:`f0_l1`: teacher-forced F0 prediction (each clip's own units, ``s`` and ``E``) against the
  F0 target, L1 in Hz over all frames and over voiced frames, beside two per-speaker baselines: the
  speaker's mean voiced F0 on the clip's voiced frames and 0 elsewhere (oracle voicing), and the
  speaker's mean on every frame. A speaker's mean comes from their *other* clips in the set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from spokenemo.systems.zest.analysis import ClipAnalysis
from spokenemo.systems.zest.converter import ZestConverter


def embeddings(conv: ZestConverter, analyses: Sequence[ClipAnalysis]) -> tuple[np.ndarray, np.ndarray]:
    """``s`` and ``e_bar`` of each clip, ``(n, dim)`` each."""
    s = np.concatenate([conv.speaker_vector(a).numpy() for a in analyses])
    e = np.concatenate([conv.emotion_frames(a)[1].numpy() for a in analyses])
    return s, e


def _probe(x_tr: np.ndarray, y_tr: Sequence[str], x_te: np.ndarray, y_te: Sequence[str]) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    clf.fit(x_tr, list(y_tr))
    return float(balanced_accuracy_score(list(y_te), clf.predict(x_te)))


def probe_embeddings(conv: ZestConverter, train: Sequence[ClipAnalysis], test: Sequence[ClipAnalysis],
                     train_meta: Sequence[tuple[str, str]], test_meta: Sequence[tuple[str, str]]) -> dict[str, float]:
    """UA of emotion-from-``s``, speaker-from-``s``, emotion-from-``e_bar``, speaker-from-``e_bar``
    (meta rows are ``(speaker, emotion)``)."""
    s_tr, e_tr = embeddings(conv, train)
    s_te, e_te = embeddings(conv, test)
    spk_tr, emo_tr = zip(*train_meta, strict=True)
    spk_te, emo_te = zip(*test_meta, strict=True)
    return {"emotion_from_s": _probe(s_tr, emo_tr, s_te, emo_te), "speaker_from_s": _probe(s_tr, spk_tr, s_te, spk_te),
            "emotion_from_e": _probe(e_tr, emo_tr, e_te, emo_te), "speaker_from_e": _probe(e_tr, spk_tr, e_te, spk_te)}


def teacher_forced_f0(conv: ZestConverter, a: ClipAnalysis) -> np.ndarray:
    """F0 predicted from the clip's own units, ``s`` and ``E``."""
    with torch.no_grad():
        e, _, mask = conv.emotion_frames(a)
        return conv.predict_f0(conv.units(a), conv.speaker_vector(a), e, mask)


def f0_l1(conv: ZestConverter, analyses: Sequence[ClipAnalysis], speakers: Sequence[str]) -> dict[str, Any]:
    """L1 (Hz) of the predictor and of the per-speaker mean baselines (module docstring)."""
    voiced_means = [a.f0[a.f0 > 0] for a in analyses]
    rows: dict[str, list[float]] = {k: [] for k in ("model", "model_voiced", "mean_oracle_voicing", "mean_everywhere",
                                                    "mean_voiced")}
    for i, a in enumerate(analyses):
        others = [voiced_means[j] for j in range(len(analyses)) if speakers[j] == speakers[i] and j != i]
        if not others or not (a.f0 > 0).any():
            continue
        mu = float(np.concatenate(others).mean())
        pred = teacher_forced_f0(conv, a)
        v = a.f0 > 0
        rows["model"].append(float(np.abs(pred - a.f0).mean()))
        rows["model_voiced"].append(float(np.abs(pred - a.f0)[v].mean()))
        rows["mean_oracle_voicing"].append(float(np.abs(np.where(v, mu, 0.0) - a.f0).mean()))
        rows["mean_everywhere"].append(float(np.abs(mu - a.f0).mean()))
        rows["mean_voiced"].append(float(np.abs(mu - a.f0[v]).mean()))
    return {k: float(np.mean(v)) if v else None for k, v in rows.items()} | {"clips": len(rows["model"])}
