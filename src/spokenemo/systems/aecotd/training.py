"""``train(config) -> model directory``: the whole student training run.

1. :func:`~spokenemo.systems.aecotd.training_data.build_training_data` reads the manifest, the training keys,
   the cue file (thresholds fitted on the training keys only) and the teacher cache;
2. every utterance is rendered with the student prompt template and tokenised with
   per-token loss weights (:mod:`spokenemo.systems.aecotd.examples`);
3. LoRA is trained by the generic loop :func:`spokenemo.train.loop.fit` (accelerate: one CPU or
   GPU, or several GPUs and nodes under ``accelerate launch`` / ``torchrun``) with the
   emotion-focused loss of :mod:`spokenemo.systems.aecotd.loss` and checkpoints to resume from;
   this module only maps the student's config onto :class:`~spokenemo.train.settings.TrainSettings`
   (:func:`train_settings`) and its batches onto the loss (:func:`student_loss`);
4. the model directory is written (:mod:`spokenemo.systems.aecotd.model_dir`), by the main process.

Running ``train`` again on the same output folder resumes an interrupted run, and returns at
once when the model is already complete; a folder holding a different run is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from spokenemo import __version__
from spokenemo.core.errors import ConfigError
from spokenemo.models.causal_lm import (
    LoraSettings,
    add_lora,
    base_howto,
    load_base_model,
    load_tokenizer,
    use_bf16,
)
from spokenemo.systems.aecotd.config import StudentConfig
from spokenemo.systems.aecotd.examples import EncodeStats, Example, WeightScheme, collate, encode_example
from spokenemo.systems.aecotd.inputs import load_prompt_template, render_prompt_messages, template_record
from spokenemo.systems.aecotd.loss import token_nll, weighted_cross_entropy
from spokenemo.systems.aecotd.model_dir import (
    METRICS_FILE,
    STUDENT_FILE,
    PromptRef,
    StudentInfo,
    read_json,
    write_model_dir,
)
from spokenemo.systems.aecotd.tokens import end_of_turn_ids
from spokenemo.systems.aecotd.training_data import TrainingData, build_training_data
from spokenemo.train.loop import LossFn, fit
from spokenemo.train.runtime import seed_everything, training_device, wait_for_everyone
from spokenemo.train.settings import FitResult, TrainSettings

log = logging.getLogger(__name__)


def weight_scheme(cfg: StudentConfig) -> WeightScheme:
    """The per-token weights of ``cfg.loss`` (uniform when ``emotion_loss`` is off)."""
    if not cfg.loss.emotion_loss:
        return WeightScheme.uniform()
    return WeightScheme(cfg.loss.label_weight, cfg.loss.other_weight)


def encode_training_data(tokenizer: Any, template: Any, data: TrainingData,
                         cfg: StudentConfig) -> tuple[list[Example], EncodeStats]:
    """Tokenise every training item (prompt from ``template``, target from label and reasoning)."""
    eot = end_of_turn_ids(tokenizer)
    scheme = weight_scheme(cfg)
    stats = EncodeStats()
    examples = []
    for item in data.items:
        if item.label is None:
            raise ConfigError(f"training utterance {item.key!r} has no label")
        messages = render_prompt_messages(template, item.transcript, item.cue_text, data.labels)
        ex = encode_example(tokenizer, messages, item.label,
                            item.reasoning, key=item.key, cot=cfg.target.cot, weights=scheme, eot=eot,
                            max_length=cfg.target.max_length, max_reasoning_tokens=cfg.target.max_reasoning_tokens)
        if ex is None:
            stats.too_long.append(item.key)
            continue
        stats.encoded += 1
        stats.truncated += ex.truncated
        stats.label_only += cfg.target.cot and ex.reasoning_tokens == 0
        examples.append(ex)
    return examples, stats


def run_fingerprint(cfg: StudentConfig, examples: list[Example]) -> str:
    """Hash of everything that determines the trained weights (not logging or checkpoint cadence)."""
    settings = cfg.model_dump(mode="json", exclude={"source": True, "data": True,
                                                    "runtime": {"checkpoint_every", "keep_checkpoints",
                                                                "log_every", "threads"}})
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for ex in examples:
        h.update(json.dumps([ex.key, ex.input_ids, ex.weights]).encode())
    return h.hexdigest()


def train_settings(cfg: StudentConfig, *, device: Any = "auto", bf16: bool = False) -> TrainSettings:
    """The generic loop's settings from the student config's ``optim`` and ``runtime`` sections."""
    o, r = cfg.optim, cfg.runtime
    return TrainSettings(lr=o.lr, weight_decay=o.weight_decay, betas=o.betas, warmup_ratio=o.warmup_ratio,
                         schedule=o.schedule, epochs=o.epochs, max_steps=o.max_steps, batch_size=o.batch_size,
                         grad_accum=o.grad_accum, max_grad_norm=o.max_grad_norm, seed=r.seed, device=str(device),
                         mixed_precision="bf16" if bf16 else "no", checkpoint_every=r.checkpoint_every,
                         keep_checkpoints=r.keep_checkpoints, log_every=r.log_every)


def student_loss(cfg: StudentConfig) -> LossFn:
    """The loss of one batch of :func:`~spokenemo.systems.aecotd.examples.collate`: Eq. 5-6, and the label NLL logged."""

    def loss_fn(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        ids = batch["input_ids"]
        out = model(input_ids=ids, attention_mask=batch["attention_mask"], use_cache=False)
        loss = weighted_cross_entropy(out.logits, ids, batch["weights"], normalize=cfg.loss.normalize)
        return loss, {"label_nll": float(token_nll(out.logits.detach(), ids, batch["label_mask"]))}

    return loss_fn


def train(config: StudentConfig, out_dir: str | Path, *, data: TrainingData | None = None, resume: bool = True,
          stop_after_steps: int | None = None, on_log: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Train a student and write its model directory.

    Parameters
    ----------
    config : StudentConfig
        From :func:`spokenemo.systems.aecotd.config.load_config`.
    out_dir : path
        The model directory (created; resumed when it holds checkpoints of the same run).
    data : TrainingData, optional
        Ready training items; default: built from ``config.data``.
    resume : bool
        Continue from the newest checkpoint (False starts afresh, discarding them).
    stop_after_steps : int, optional
        Stop after this many optimizer steps in total (the model directory is then not written
        yet; calling ``train`` again resumes).
    on_log : callable, optional
        Receives each logged training row (step, loss, label NLL, lr, tokens/s).

    Returns
    -------
    Path
        ``out_dir``; it holds ``student.json`` when training has finished.
    """
    threads = torch.get_num_threads()
    if config.runtime.threads:
        torch.set_num_threads(config.runtime.threads)
    try:
        return _train(config, Path(out_dir), data=data, resume=resume, stop_after_steps=stop_after_steps,
                      on_log=on_log)
    finally:
        torch.set_num_threads(threads)  # the setting is process-wide: give the caller its own back


def _already_trained(out_dir: Path, fingerprint: str, resume: bool) -> bool:
    """True when ``out_dir`` holds this very student; refuse another one; clear it for a restart."""
    done = out_dir / STUDENT_FILE
    if done.is_file() and resume:
        previous = read_json(out_dir / METRICS_FILE) if (out_dir / METRICS_FILE).is_file() else {}
        if previous.get("fingerprint") == fingerprint:
            log.info("%s is already trained with these settings", out_dir)
            return True
        raise ConfigError(f"{out_dir}: already holds a student trained with other data or settings",
                          hint="train into a new output folder, or pass resume=False (--restart) to overwrite it")
    if not resume:  # start afresh: the old model and checkpoints must not outlive a crash of this run
        done.unlink(missing_ok=True)
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    return False


def _train(config: StudentConfig, out_dir: Path, *, data: TrainingData | None, resume: bool,
           stop_after_steps: int | None, on_log: Callable[[dict[str, Any]], None] | None) -> Path:
    t_start = time.perf_counter()
    if data is None:
        data = build_training_data(config)
    tokenizer = load_tokenizer(config.model.base)
    template = load_prompt_template(config.prompt.template)
    examples, stats = encode_training_data(tokenizer, template, data, config)
    fingerprint = run_fingerprint(config, examples)
    if _already_trained(out_dir, fingerprint, resume):
        return out_dir
    device = training_device(config.runtime.device)
    bf16 = use_bf16(config.runtime.precision, device)
    seed_everything(config.runtime.seed)
    lora = LoraSettings(**config.lora.model_dump())
    model = add_lora(load_base_model(config.model.base, device=device, revision=config.model.revision), lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("training %d examples on %s (%s), %d trainable parameters", len(examples), device,
             "bf16 autocast" if bf16 else "fp32", trainable)
    result = fit(model, examples, student_loss(config), train_settings(config, device=device, bf16=bf16), out_dir,
                 collate_fn=partial(collate, pad_id=tokenizer.pad_token_id), fingerprint=fingerprint,
                 resume=resume, stop_after_steps=stop_after_steps, on_log=on_log)
    if not result.finished:
        return out_dir
    if result.main_process:  # one process writes the folder; the others wait for it below
        metrics = _metrics(result, examples, stats, data, fingerprint=fingerprint, device=device, bf16=bf16,
                           trainable=trainable, seconds=time.perf_counter() - t_start)
        _write_student(out_dir, config, data, template, model, tokenizer, metrics)
    wait_for_everyone()
    return out_dir


def _write_student(out_dir: Path, config: StudentConfig, data: TrainingData, template: Any, model: Any,
                   tokenizer: Any, metrics: dict[str, Any]) -> None:
    """The model directory of a finished run (:func:`~spokenemo.systems.aecotd.model_dir.write_model_dir`)."""
    info = StudentInfo(base_model=config.model.base, base_model_howto=base_howto(config.model.base),
                       labels=data.labels, label_set=data.label_set, cot=config.target.cot,
                       prompt=PromptRef(name=template.name, version=template.version, sha256=template.sha256),
                       cues={"text": config.cues.model_dump(mode="json"), "table": data.cue_options},
                       spokenemo_version=__version__)
    write_model_dir(out_dir, model=model, tokenizer=tokenizer, info=info, thresholds=data.thresholds,
                    prompt=template_record(template), config=config.to_yaml_dict(), metrics=metrics)
    log.info("student written to %s", out_dir)


def _metrics(result: FitResult, examples: list[Example], stats: EncodeStats, data: TrainingData, *,
             fingerprint: str, device: Any, bf16: bool, trainable: int, seconds: float) -> dict[str, Any]:
    """What ``metrics.json`` records about the run."""
    lengths = [len(e) for e in examples]
    last = result.history[-1] if result.history else {}
    return {
        "fingerprint": fingerprint, "steps": result.step, "total_steps": result.total_steps,
        "resumed_from": result.resumed_from, "device": str(device), "bf16": bf16, "trainable_parameters": trainable,
        "tokens_per_second_last_call": result.tokens_per_second, "seconds_total_last_call": seconds,
        "final_loss": last.get("loss"), "final_label_nll": last.get("label_nll"),
        "examples": len(examples), "tokens_per_example": {"min": min(lengths), "max": max(lengths),
                                                          "mean": sum(lengths) / len(lengths)},
        "encoding": stats.to_dict(), "data": data.counts, "python": platform.python_version(),
        "torch": torch.__version__,
    }
