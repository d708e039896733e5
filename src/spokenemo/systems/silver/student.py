"""The silver stage: a text encoder fine-tuned on the three silver classes (thesis.md 2.2 item 3).

:class:`SentimentStudent` is the encoder (a transformers model from a local folder) with a
RoBERTa-style classification head on the first token (``<s>`` / ``[CLS]``: dense, tanh, dropout,
linear to 3 classes). :func:`train_student` trains it with :func:`spokenemo.train.loop.fit`
(AdamW, linear warm-up over 6 % of the steps then linear decay, cross-entropy; thesis: 10 epochs,
lr 1e-4, batch 32), checkpointing into ``<out>/train/`` so an interrupted run resumes, and writes
the trained encoder as an ordinary model folder (``save_pretrained`` of model and tokenizer, the
base folder's sentence-transformers files, ``silver_head.safetensors`` and ``silver.json`` last):
:class:`~spokenemo.models.encoders.text.TextEncoder` loads it like any local encoder.

This module needs torch and transformers; light modules reach it through
:func:`~spokenemo.core.lazy.optional_import`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from spokenemo.core.errors import ConfigError, ModelNotFoundError
from spokenemo.core.fileio import atomic_write
from spokenemo.core.sampling import seeded_rank
from spokenemo.models.encoders.hf_local import weights_identity
from spokenemo.models.encoders.text_files import minilm_dir, mpnet_dir
from spokenemo.systems.silver.parse import SENTIMENTS
from spokenemo.train.loop import TrainSettings, fit

ST_FILES = ("sentence_bert_config.json", "modules.json", "config_sentence_transformers.json")
STATE_FILE = "silver.json"
HEAD_FILE = "silver_head.safetensors"


@dataclass(frozen=True)
class StudentSettings:
    """Silver-stage training (thesis: 10 epochs, lr 1e-4, batch 32; **ours**: AdamW, weight decay
    0.01, warm-up 6 %, linear decay, dropout 0.1, ``max_length`` tokens; ``limit`` silver texts,
    chosen in a seeded order)."""

    epochs: float = 10.0
    lr: float = 1e-4
    batch_size: int = 32
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    dropout: float = 0.1
    max_length: int = 64
    limit: int | None = None
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 100


def base_model_dir(base: str) -> Path:
    """The folder of a base encoder: ``minilm``, ``mpnet``, ``hf:/path`` or a path."""
    if base == "minilm":
        return minilm_dir()
    if base == "mpnet":
        return mpnet_dir()
    folder = Path(base.removeprefix("hf:"))
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(f"base encoder {base!r}: {folder} holds no config.json",
                                 hint="use minilm, mpnet or hf:/path/to/a/local/model/folder")
    return folder


class SentimentStudent(nn.Module):
    """Encoder + classification head on the first token (see the module docstring)."""

    def __init__(self, encoder: nn.Module, n_classes: int = len(SENTIMENTS), dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        dim = int(encoder.config.hidden_size)
        self.dense, self.out, self.dropout = nn.Linear(dim, dim), nn.Linear(dim, n_classes), nn.Dropout(dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        first = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, 0]
        return self.out(self.dropout(torch.tanh(self.dense(self.dropout(first)))))


@dataclass
class StudentResult:
    """What :func:`train_student` did: the folder, examples, steps, whether it finished, the log."""

    folder: Path
    n_examples: int
    steps: int
    total_steps: int
    finished: bool
    resumed_from: int | None
    seconds: float
    final_loss: float | None


def choose_examples(labels: dict[str, str], texts: dict[str, str], limit: int | None,
                    seed: int) -> list[tuple[str, str, int]]:
    """``(key, text, class index)`` of the silver texts, in a seeded order, at most ``limit``."""
    keys = sorted((k for k in labels if texts.get(k, "").strip()), key=lambda k: seeded_rank(k, seed))
    index = {s: i for i, s in enumerate(SENTIMENTS)}
    return [(k, texts[k], index[labels[k]]) for k in keys[:limit]]


def _fingerprint(base_dir: Path, examples: Sequence[tuple[str, str, int]], settings: StudentSettings) -> str:
    payload = {"base": weights_identity(base_dir), "examples": [(k, y) for k, _, y in examples],
               "settings": {k: v for k, v in asdict(settings).items() if k not in ("device", "checkpoint_every")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train_student(labels: dict[str, str], texts: dict[str, str], base: str, out_dir: str | Path,
                  settings: StudentSettings = StudentSettings(), *, record: dict[str, Any] | None = None,
                  resume: bool = True, progress: bool = True, stop_after_steps: int | None = None) -> StudentResult:
    """Fine-tune ``base`` on the silver ``labels`` (key -> sentiment) of ``texts``; write ``out_dir``.

    ``record`` (labeller, agreement, ...) is stored in ``silver.json``. A run stopped early
    (``stop_after_steps``, Ctrl-C) resumes from its newest checkpoint when called again with the
    same data and settings; other data or settings raise a :class:`ConfigError` from the loop.
    """
    out, base_dir = Path(out_dir), base_model_dir(base)
    examples = choose_examples(labels, texts, settings.limit, settings.seed)
    if not examples:
        raise ConfigError("no silver-labelled text to train on", hint="run `spokenemo silver label` first")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    torch.manual_seed(settings.seed)
    encoder = transformers.AutoModel.from_pretrained(str(base_dir), local_files_only=True)
    model = SentimentStudent(encoder, dropout=settings.dropout)
    fingerprint = _fingerprint(base_dir, examples, settings)
    steps_per_epoch = -(-len(examples) // settings.batch_size)
    train = TrainSettings(lr=settings.lr, weight_decay=settings.weight_decay, warmup_ratio=settings.warmup_ratio,
                          schedule="linear", epochs=settings.epochs, batch_size=settings.batch_size,
                          seed=settings.seed, device=settings.device, checkpoint_every=settings.checkpoint_every,
                          keep_checkpoints=1, log_every=max(1, min(10, steps_per_epoch)))

    def collate(rows: list[tuple[str, str, int]]) -> dict[str, torch.Tensor]:
        batch = tokenizer([t for _, t, _ in rows], padding=True, truncation=True, max_length=settings.max_length,
                          return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                "labels": torch.tensor([y for _, _, y in rows])}

    def loss_fn(m: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        logits = m(batch["input_ids"], batch["attention_mask"])
        acc = (logits.argmax(1) == batch["labels"]).float().mean().item()
        return F.cross_entropy(logits, batch["labels"]), {"accuracy": acc}

    bar = tqdm(total=int(settings.epochs * steps_per_epoch), unit="step", desc="silver student",
               dynamic_ncols=True, disable=not progress)

    def on_log(row: dict[str, Any]) -> None:
        bar.total = row["total_steps"]
        bar.update(row["step"] - bar.n)
        bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['accuracy']:.2f}", refresh=False)

    try:
        result = fit(model, examples, loss_fn, train, out / "train", collate_fn=collate, fingerprint=fingerprint,
                     resume=resume, stop_after_steps=stop_after_steps, on_log=on_log)
    finally:
        bar.close()
    last = result.history[-1]["loss"] if result.history else None
    done = StudentResult(out, len(examples), result.step, result.total_steps, result.finished,
                         result.resumed_from, result.seconds, last)
    if result.finished and result.main_process:
        _save(model, tokenizer, base_dir, out, {
            "base": base, "fingerprint": fingerprint, "n_examples": len(examples), "classes": list(SENTIMENTS),
            "settings": asdict(settings), "steps": result.step, "final_loss": last, **(record or {})})
    return done


def _save(model: SentimentStudent, tokenizer: Any, base_dir: Path, out: Path, state: dict[str, Any]) -> None:
    """The encoder folder; ``silver.json`` last marks it complete. Checkpoints are removed."""
    (out / STATE_FILE).unlink(missing_ok=True)
    model.encoder.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    for name in ST_FILES:
        if (base_dir / name).is_file():
            shutil.copy2(base_dir / name, out / name)
    head = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if not n.startswith("encoder.")}
    save_file(head, str(out / HEAD_FILE))
    with atomic_write(out / STATE_FILE) as fh:
        json.dump(state, fh, indent=1, default=str)
        fh.write("\n")
    shutil.rmtree(out / "train" / "checkpoints", ignore_errors=True)


def read_state(folder: str | Path) -> dict[str, Any]:
    """``silver.json`` of a trained silver encoder folder."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{folder}: no {STATE_FILE} (not a finished silver encoder)",
                                 hint="run `spokenemo silver train` (it resumes an interrupted run)")
    return json.loads(path.read_text(encoding="utf-8"))
