"""Training the S2S-ZEST analysis modules through the platform's training loop.

1. analyse the training clips (encoder layers, F0, d-vectors; cached);
2. the unit-quality check picks the encoder layer (unless the config names one), k-means K = 100;
3. the speaker FC layers with the emotion-adversarial head (Eq. 5.1), then frozen;
4. emotion encoder, F0 and duration predictors jointly (Eq. 5.7);
5. **(ours)** the envelope-style regression (:mod:`spokenemo.systems.zest.envelope_fit`);
6. the converter folder (:class:`~spokenemo.systems.zest.converter.ZestConverter`).

Every fit goes through :func:`spokenemo.train.loop.fit` (checkpoints under ``OUT/work``).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spokenemo.audio import load_audio
from spokenemo.core.cache import fingerprint
from spokenemo.core.errors import ConfigError
from spokenemo.models.zest.nets import SpeakerModule
from spokenemo.models.zest.style import StyleModel, StyleSizes, collate
from spokenemo.models.zest.units import UnitTokenizer, dedup, unit_quality
from spokenemo.systems.zest.analysis import SAMPLE_RATE, Analyser, ClipAnalysis
from spokenemo.systems.zest.config import ZestConfig
from spokenemo.systems.zest.converter import ZestConverter
from spokenemo.systems.zest.corpus import Clip, ravdess_clips, select
from spokenemo.systems.zest.envelope_fit import fit_envelope
from spokenemo.train.loop import fit
from spokenemo.train.settings import TrainSettings

log = logging.getLogger(__name__)


def training_clips(cfg: ZestConfig) -> list[Clip]:
    """The configured RAVDESS training clips (actors, classes, repetitions; ``limit`` evenly spread)."""
    d = cfg.data
    clips = select(ravdess_clips(d.root), actors=d.actors, emotions=d.emotions, repetitions=d.repetitions)
    if d.limit is not None and len(clips) > d.limit:
        clips = [clips[i] for i in np.linspace(0, len(clips) - 1, d.limit).round().astype(int)]
    if not clips:
        raise ConfigError("no RAVDESS training clip matches data.actors/emotions/repetitions")
    return clips


def analyse_clips(analyser: Analyser, clips: Sequence[Clip], chunk: int = 32) -> list[ClipAnalysis]:
    """Analyses of ``clips`` in chunks (cached by file name)."""
    out: list[ClipAnalysis] = []
    for a in range(0, len(clips), chunk):
        part = clips[a:a + chunk]
        waves = [load_audio(c.path, sr=SAMPLE_RATE) for c in part]
        out.extend(analyser.analyse_many(waves, [f"{c.key}" for c in part]))
    return out


def add_envelope(folder: str | Path) -> ZestConverter:
    """Fit the envelope-style regression of a trained converter folder on its training clips and save it."""
    conv = ZestConverter.load(folder)
    clips = training_clips(conv.config)
    cfg = conv.config
    layers = set(cfg.units.candidates if cfg.units.layer is None else [cfg.units.layer])
    analyser = Analyser(cfg.units.encoder, sorted(layers | {cfg.style.emotion_layer}), cfg.transfer.f0_method,
                        cfg.cache_dir)
    conv.envelope = fit_envelope(conv, clips, analyse_clips(analyser, clips))
    conv.save(folder)
    return conv


def choose_layer(cfg: ZestConfig, clips: Sequence[Clip], analyses: Sequence[ClipAnalysis]
                 ) -> tuple[int, dict[int, dict[str, float]]]:
    """The configured unit layer, or the candidate with the best unit-quality score (and the table)."""
    u = cfg.units
    table: dict[int, dict[str, float]] = {}
    layers = [u.layer] if u.layer is not None else u.candidates
    for layer in layers:
        frames = [a.layers[layer].astype(np.float32) for a in analyses]
        tok = UnitTokenizer.fit(frames, k=u.k, layer=layer, encoder=u.encoder, normalise=u.normalise,
                                fraction=u.fraction, seed=cfg.seed)
        units = [tok.tokenize(f) for f in frames]
        table[layer] = unit_quality(units, [c.statement for c in clips], [c.actor for c in clips], u.k)
    best = max(table, key=lambda k: table[k]["score"])
    return best, table


def _settings(epochs: int, batch_size: int, lr: float, n: int, cfg: ZestConfig, weight_decay: float = 0.0
              ) -> TrainSettings:
    steps = max(1, -(-n // batch_size))
    return TrainSettings(lr=lr, weight_decay=weight_decay, schedule="constant", epochs=epochs, batch_size=batch_size,
                         seed=cfg.seed, device=cfg.device, log_every=steps * max(1, epochs // 10),
                         checkpoint_every=steps * epochs, keep_checkpoints=1, max_grad_norm=1.0)


def _stack(examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    return {"dvector": torch.as_tensor(np.stack([x["dvector"] for x in examples])),
            "speaker": torch.as_tensor([x["speaker"] for x in examples]),
            "emotion": torch.as_tensor([x["emotion"] for x in examples])}


def train_speaker(cfg: ZestConfig, analyses: Sequence[ClipAnalysis], spk: list[int], emo: list[int],
                  n_speakers: int, n_emotions: int, work: Path) -> tuple[SpeakerModule, list[dict[str, Any]]]:
    """The FC layers on frozen d-vectors with the emotion-adversarial head (Eq. 5.1)."""
    c = cfg.speaker
    torch.manual_seed(cfg.seed)
    model = SpeakerModule(n_speakers, n_emotions, dim=c.dim, adv_weight=c.adv_weight)
    data = [{"dvector": a.dvector, "speaker": s, "emotion": e} for a, s, e in zip(analyses, spk, emo, strict=True)]
    result = fit(model, data, lambda m, b: m.loss(b), _settings(c.epochs, c.batch_size, c.lr, len(data), cfg),
                 work / "speaker", collate_fn=_stack, fingerprint=fingerprint(["speaker", cfg.model_dump()]),
                 resume=False)
    return model.eval(), result.history


def style_examples(cfg: ZestConfig, tok: UnitTokenizer, speaker: SpeakerModule, analyses: Sequence[ClipAnalysis],
                   spk: list[int], emo: list[int]) -> list[dict[str, Any]]:
    """One training example per clip for :func:`~spokenemo.models.zest.style.collate`."""
    with torch.no_grad():
        s = speaker(torch.as_tensor(np.stack([a.dvector for a in analyses]))).numpy()
    out = []
    for a, sv, sp, em in zip(analyses, s, spk, emo, strict=True):
        units = tok.tokenize(a.layers[tok.layer].astype(np.float32))
        runs, durs = dedup(units)
        out.append({"frames": a.layers[cfg.style.emotion_layer].astype(np.float32), "units": units, "f0": a.f0,
                    "runs": runs, "durations": durs, "s": sv, "emotion": em, "speaker": sp})
    return out


def style_sizes(cfg: ZestConfig, k: int, n_emotions: int, n_speakers: int, frame_dim: int) -> StyleSizes:
    c = cfg.style
    return StyleSizes(n_units=k, n_emotions=n_emotions, n_speakers=n_speakers, frame_dim=frame_dim,
                      s_dim=cfg.speaker.dim, dim=c.dim, heads=c.heads, emotion_layers=c.emotion_layers,
                      f0_blocks=c.f0_blocks, dropout=c.dropout, adv_spk=c.adv_weight, lambda_e=c.lambda_e,
                      lambda_f=c.lambda_f, lambda_d=c.lambda_d, log_durations=c.log_durations)


def train_style(cfg: ZestConfig, examples: list[dict[str, Any]], sizes: StyleSizes, work: Path
                ) -> tuple[StyleModel, list[dict[str, Any]]]:
    """Emotion encoder + F0 + duration predictors with the joint loss (Eq. 5.7)."""
    c = cfg.style
    torch.manual_seed(cfg.seed)
    model = StyleModel(sizes)
    result = fit(model, examples, lambda m, b: m.loss(b),
                 _settings(c.epochs, c.batch_size, c.lr, len(examples), cfg, c.weight_decay), work / "style",
                 collate_fn=collate, fingerprint=fingerprint(["style", cfg.model_dump()]), resume=False)
    return model.eval(), result.history


def train_converter(cfg: ZestConfig, out_dir: str | Path, *, say: Callable[[str], None] = log.info) -> ZestConverter:
    """Train every analysis module on the configured clips and write the converter folder ``out_dir``."""
    t0 = time.process_time()
    out = Path(out_dir)
    clips = training_clips(cfg)
    emotions = sorted({c.emotion for c in clips})
    speakers = sorted({c.actor for c in clips})
    spk = [speakers.index(c.actor) for c in clips]
    emo = [emotions.index(c.emotion) for c in clips]
    layers = set(cfg.units.candidates if cfg.units.layer is None else [cfg.units.layer])
    analyser = Analyser(cfg.units.encoder, sorted(layers | {cfg.style.emotion_layer}), cfg.transfer.f0_method,
                        cfg.cache_dir)
    say(f"analysing {len(clips)} clips ({len(speakers)} speakers, {len(emotions)} classes)")
    analyses = analyse_clips(analyser, clips)
    layer, quality = choose_layer(cfg, clips, analyses)
    say(f"unit layer {layer}: " + "; ".join(f"L{k} content {v['content']:.2f} leak {v['speaker_leak']:.2f}"
                                             for k, v in quality.items()))
    frames = [a.layers[layer].astype(np.float32) for a in analyses]
    tok = UnitTokenizer.fit(frames, k=cfg.units.k, layer=layer, encoder=cfg.units.encoder,
                            normalise=cfg.units.normalise, fraction=cfg.units.fraction, seed=cfg.seed)
    work = out / "work"
    speaker, spk_hist = train_speaker(cfg, analyses, spk, emo, len(speakers), len(emotions), work)
    say(f"speaker module: {spk_hist[-1] if spk_hist else {}}")
    examples = style_examples(cfg, tok, speaker, analyses, spk, emo)
    sizes = style_sizes(cfg, tok.k, len(emotions), len(speakers), examples[0]["frames"].shape[1])
    style, style_hist = train_style(cfg, examples, sizes, work)
    say(f"style model: {style_hist[-1] if style_hist else {}}")
    shutil.rmtree(work, ignore_errors=True)
    summary = {"clips": len(clips), "unit_layer": layer, "unit_quality": quality, "speaker_log": spk_hist,
               "style_log": style_hist, "cpu_seconds": round(time.process_time() - t0, 1),
               "train_keys": [c.key for c in clips]}
    conv = ZestConverter(cfg, tok, speaker, style, emotions, speakers, summary)
    conv.envelope = fit_envelope(conv, clips, analyses)
    conv.save(out)
    return conv
