"""CARE pre-training through the platform's training loop (:func:`spokenemo.train.loop.fit`).

:func:`pretrain` takes utterances with transcripts (others transcribed or skipped, counted),
keeps a seeded subset (``data.limit``, stratified by corpus), splits off a random validation
share, computes and caches both teachers' targets (:mod:`.targets`), builds the graph
(:func:`~spokenemo.models.care.graph.build_care`) and trains it with AdamW on
``L = L_sem + lambda L_acoust``. Every ``valid_every`` steps the validation loss is computed and, when
it is the lowest so far, the model is written to ``OUT/best/`` (``best.json`` records the step);
the loop's checkpoints (``OUT/checkpoints/``, same cadence) make the run resumable, and a run with
other settings or data is refused by the fingerprint. ``OUT/final/`` is the last step's model.

Output folder::

    OUT/pretrain.json  settings, data counts, transcript report, best step, parameter counts
    OUT/train_log.jsonl, OUT/valid_log.jsonl, OUT/best.json
    OUT/best/, OUT/final/  CARE model folders (care.json + model.safetensors)
    OUT/targets/  the cached teacher targets;  OUT/checkpoints/  the loop's resumable state
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from spokenemo.core.cache import fingerprint
from spokenemo.core.errors import ConfigError
from spokenemo.core.fileio import append_jsonl, atomic_write
from spokenemo.core.sampling import stratified_subset
from spokenemo.data.manifest import Segment
from spokenemo.models.care.graph import CareModel, build_care, parameter_counts
from spokenemo.models.care.io import save_care
from spokenemo.models.care.losses import care_loss
from spokenemo.systems.care.config import PretrainConfig, pretrain_config
from spokenemo.systems.care.data import Collate, Example, load_examples, split, with_transcripts
from spokenemo.systems.care.targets import ACOUSTIC_ENCODERS, Targets
from spokenemo.train.checkpoint import latest_checkpoint, read_state
from spokenemo.train.loop import fit
from spokenemo.train.settings import TrainSettings

log = logging.getLogger(__name__)


@dataclass
class PretrainResult:
    """Where a run stands: steps done, whether it finished, the best validation step and loss."""

    out_dir: Path
    step: int
    total_steps: int
    finished: bool
    best_step: int | None
    best_valid_loss: float | None
    summary: dict[str, Any]


def train_settings(cfg: PretrainConfig) -> TrainSettings:
    """The loop's settings: checkpoints and logged rows at the validation cadence."""
    t = cfg.train
    return TrainSettings(lr=t.lr, betas=t.betas, eps=t.eps, weight_decay=t.weight_decay, warmup_ratio=t.warmup_ratio,
                         schedule=t.schedule, epochs=t.epochs, max_steps=t.max_steps, batch_size=t.batch_size,
                         grad_accum=t.grad_accum, max_grad_norm=t.max_grad_norm, seed=t.seed, device=t.device,
                         mixed_precision=t.mixed_precision, checkpoint_every=t.valid_every,
                         keep_checkpoints=t.keep_checkpoints, log_every=t.valid_every)


def _loss(cfg: PretrainConfig) -> Callable[[Any, dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, float]]]:
    def loss_fn(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(batch["inputs"], batch["n_frames"])
        return care_loss(out.pooled, batch["y_text"], out.acoustic_pred, batch["y_acoustic"],
                         batch["acoustic_mask"] & out.mask, lam=cfg.train.lam, reduction=cfg.train.reduction)
    return loss_fn


def validate(model: CareModel, examples: Sequence[Example], collate: Collate, cfg: PretrainConfig) -> dict[str, float]:
    """Mean validation losses (``loss``, ``sem``, ``acoust``) over ``examples``, first crops."""
    loss_fn, sums, n = _loss(cfg), {"loss": 0.0, "sem": 0.0, "acoust": 0.0}, 0
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    with torch.no_grad():
        for at in range(0, len(examples), cfg.train.batch_size):
            part = examples[at:at + cfg.train.batch_size]
            batch = {k: v.to(device) for k, v in collate(list(part)).items()}
            loss, figures = loss_fn(model, batch)
            for name, value in {"loss": float(loss), **figures}.items():
                sums[name] += value * len(part)
            n += len(part)
    model.train(was)
    return {k: v / max(n, 1) for k, v in sums.items()}


def prepare_data(cfg: PretrainConfig, segments: Sequence[Segment], asr: Callable[[Segment], str] | None = None
                 ) -> tuple[list[Segment], list[Segment], dict[str, Any]]:
    """Transcripts, subset and split (module docstring): ``(train, valid, counts)``."""
    usable = [u for u in segments if u.path]
    kept, report = with_transcripts(usable, cfg.data.missing_text, asr_backend=cfg.data.asr_backend, asr=asr)
    chosen = stratified_subset(kept, cfg.data.limit, cfg.train.seed, label=lambda u: u.corpus or "")
    train, valid = split(chosen, cfg.data.valid_fraction, cfg.train.seed)
    if not train:
        raise ConfigError("no pre-training utterance has audio and a transcript",
                          hint="check the manifest's paths and text, or set data.missing_text: asr")
    counts = {"segments": len(segments), "without_audio": len(segments) - len(usable),
              "transcripts": report.as_dict(), "chosen": len(chosen), "train": len(train), "valid": len(valid)}
    return train, valid, counts


def pretrain(config: Any, segments: Sequence[Segment], out_dir: str | Path, *, resume: bool = True,
             stop_after_steps: int | None = None, progress: bool = True,
             asr: Callable[[Segment], str] | None = None) -> PretrainResult:
    """Pre-train CARE on ``segments`` into ``out_dir`` (module docstring).

    Parameters
    ----------
    config : a :class:`PretrainConfig`, a mapping, a YAML path or None (offline defaults).
    segments : utterances with audio (``path``) and, ideally, ``text``.
    resume : continue from the newest checkpoint in ``out_dir`` (False: start afresh).
    stop_after_steps : stop after this many steps in total (a later call resumes).
    asr : transcriber replacing the packaged one for utterances without text (tests).
    """
    cfg, out = pretrain_config(config), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, valid, counts = prepare_data(cfg, segments, asr)
    model = build_care(cfg.model, seed=cfg.train.seed)
    targets = Targets(out / "targets", cfg.targets.text_teacher or cfg.model.text,
                      cfg.targets.acoustic_encoder or ACOUSTIC_ENCODERS[cfg.model.acoustic_target],
                      text_dim=model.text_dim, norm=cfg.targets.acoustic_norm)
    targets.compute([*train, *valid], progress=progress)
    train_ex, missing_train = load_examples(train, targets)
    valid_ex, missing_valid = load_examples(valid, targets)
    counts.update(without_targets=len(missing_train) + len(missing_valid), train_examples=len(train_ex),
                  valid_examples=len(valid_ex))
    settings = train_settings(cfg)
    fp = fingerprint({"config": cfg.model_dump(mode="json"), "train": sorted(e.key for e in train_ex),
                      "valid": sorted(e.key for e in valid_ex), "targets": targets.fingerprint()})
    speech = model.speech
    collate = Collate(speech.featurize, speech.n_frames, cfg.data.crop_seconds, seed=cfg.train.seed)
    valid_collate = Collate(speech.featurize, speech.n_frames, cfg.data.crop_seconds, random_crop=False)
    best = _Best(out, cfg, model, valid_ex, valid_collate, resume)
    bar = _progress(out, cfg, len(train_ex), resume, progress, stop_after_steps)
    loss_fn = _loss(cfg)

    def counted(m: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        value = loss_fn(m, batch)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(value[0].detach()):.4f}")
        return value

    try:
        result = fit(model, train_ex, counted, settings, out, collate_fn=collate, fingerprint=fp, resume=resume,
                     stop_after_steps=stop_after_steps, on_log=best.on_log)
    finally:
        if bar is not None:
            bar.close()
    if result.finished:
        save_care(model, out / "final", seed=cfg.train.seed, info={"step": result.step})
    summary = {"config": cfg.model_dump(mode="json"), "data": counts, "step": result.step,
               "total_steps": result.total_steps, "finished": result.finished, "best": best.record,
               "parameters": parameter_counts(model), "seconds_this_call": round(result.seconds, 1)}
    with atomic_write(out / "pretrain.json") as fh:
        json.dump(summary, fh, indent=1, default=str)
    return PretrainResult(out, result.step, result.total_steps, result.finished, best.record.get("step"),
                          best.record.get("valid_loss"), summary)


class _Best:
    """Validation at each logged step; the best model so far in ``OUT/best`` (survives a resume)."""

    def __init__(self, out: Path, cfg: PretrainConfig, model: CareModel, examples: list[Example], collate: Collate,
                 resume: bool) -> None:
        self.out, self.cfg, self.model, self.examples, self.collate = out, cfg, model, examples, collate
        path = out / "best.json"
        self.record: dict[str, Any] = json.loads(path.read_text()) if resume and path.is_file() else {}

    def on_log(self, row: dict[str, Any]) -> None:
        if not self.examples:
            return
        figures = validate(self.model, self.examples, self.collate, self.cfg)
        append_jsonl(self.out / "valid_log.jsonl", {"step": row["step"], **figures, "train_loss": row["loss"]})
        log.info("step %d: train %.4f, valid %.4f (sem %.4f, acoust %.4f)", row["step"], row["loss"],
                 figures["loss"], figures["sem"], figures["acoust"])
        if not self.record or figures["loss"] < self.record["valid_loss"]:
            save_care(self.model, self.out / "best", seed=self.cfg.train.seed,
                      info={"step": row["step"], "valid": figures})
            self.record = {"step": row["step"], "valid_loss": figures["loss"], "sem": figures["sem"],
                           "acoust": figures["acoust"]}
            with atomic_write(self.out / "best.json") as fh:
                json.dump(self.record, fh, indent=1)


def _progress(out: Path, cfg: PretrainConfig, n: int, resume: bool, show: bool, stop: int | None) -> Any:
    """A progress bar over micro-batches, starting where a resumed run starts."""
    if not show:
        return None
    t = cfg.train
    per_epoch = max(1, math.ceil(math.ceil(n / t.batch_size) / t.grad_accum))
    total = t.max_steps or max(1, math.ceil(t.epochs * per_epoch))
    total = min(total, stop) if stop else total
    latest = latest_checkpoint(out / "checkpoints") if resume else None
    done = int(read_state(latest)["step"]) if latest is not None else 0
    return tqdm(total=total * t.grad_accum, initial=min(done, total) * t.grad_accum, desc="CARE pre-training",
                unit="batch", dynamic_ncols=True)
