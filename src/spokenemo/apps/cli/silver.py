"""``spokenemo silver``: silver-label pre-training (thesis.md 2; docs/methods/silver-labels.md).

``silver label`` labels the unlabelled pool with a labeller (cached, resumable, progress bar);
``silver train`` trains the silver student on those labels and registers it as the text encoder
``silver-<name>`` (checkpointed, resumable, progress bar). :mod:`spokenemo.api.silver` is
imported when a command runs, so ``spokenemo --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import click
from rich.console import Console
from rich.table import Table

from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import
from spokenemo.llm.factory import BACKEND_KINDS, BACKEND_SETTINGS
from spokenemo.systems.silver.labellers import LABELLER_KINDS
from spokenemo.systems.silver.parse import SENTIMENTS
from spokenemo.systems.silver.pool import DEFAULT_MELD_ROOT


def _api() -> ModuleType:
    """:mod:`spokenemo.api.silver`, imported when a command runs."""
    return importlib.import_module("spokenemo.api.silver")


def _threads(n: int | None) -> None:
    if n:
        os.environ["OMP_NUM_THREADS"] = str(n)
        torch = optional_import("torch", extra="llm", purpose="setting the CPU threads")
        torch.set_num_threads(n)


def _print_silver(console: Console, output: Path, model: str | None, meld_root: Path) -> None:
    api = _api()
    silver = api.silver_labels(output, model)
    table = Table(title=f"silver labels: {output}")
    for col in ("labeller", "labelled", "neg", "neu", "pos", "no sentiment", "skipped", "pending"):
        table.add_column(col, overflow="fold")
    dist = silver.distribution()
    table.add_row(silver.model, str(len(silver.labels)), *(str(dist.get(s, 0)) for s in SENTIMENTS),
                  str(sum(silver.invalid.values())), ", ".join(f"{k} {v}" for k, v in silver.skipped.items()) or "0",
                  str(silver.pending))
    console.print(table)
    if meld_root.is_dir():
        try:
            a = api.silver_agreement(output, meld_root=meld_root, model=silver.model)
        except ConfigError:
            return
        console.print(f"agreement with MELD train gold sentiment ({a['n']} texts): accuracy {a['accuracy']:.3f}, "
                      f"kappa {a['kappa']:.3f}, macro-F1 {a['macro_f1']:.3f}")


@click.group("silver")
def silver_group() -> None:
    """Silver labels: label unlabelled transcripts, train a text encoder on them."""


@silver_group.command("label")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Label cache (JSONL) to append to; rerunning resumes it.")
@click.option("--labeller", type=click.Choice(LABELLER_KINDS), default="vader", show_default=True,
              help="llm = the thesis prompt on an LLM backend; vader / textblob = rule-based.")
@click.option("--backend", type=click.Choice(BACKEND_KINDS), default="embedded", show_default=True,
              help="LLM backend (--labeller llm); embedded = the bundled SmolLM2-135M-Instruct.")
@click.option("--model", help="LLM: folder or hub id (transformers), .gguf (llamacpp), name (openai).")
@click.option("--base-url", help="OpenAI-compatible API root (openai backend).")
@click.option("--api-key-env", help="Environment variable holding the API key (openai backend).")
@click.option("--template", help="Prompt template YAML using {sentence} (default: the thesis prompt verbatim).")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Prompts generated together (local LLMs).")
@click.option("--concurrency", type=int, default=4, show_default=True, help="Requests in flight (openai).")
@click.option("--max-tokens", type=int, default=16, show_default=True, help="Most tokens per LLM answer.")
@click.option("--attempts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Most answers per text: answers naming no sentiment are resampled.")
@click.option("--meld-root", type=click.Path(path_type=Path), default=DEFAULT_MELD_ROOT, show_default=True,
              help="Default pool: MELD train + EmoryNLP train/dev from here (test splits never).")
@click.option("--manifest", "manifests", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Text manifest(s) to pool instead (labels hidden; test rows excluded).")
@click.option("--audio-manifest", "audio_manifests", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Audio manifest(s) to transcribe with the ASR module and pool.")
@click.option("--asr-backend", default="auto", show_default=True, help="ASR backend for --audio-manifest.")
@click.option("--limit", type=int, help="Label only a seeded subset of this many pool items.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --limit subset.")
@click.option("--device", default="auto", show_default=True, help="transformers device (auto, cpu, cuda).")
@click.option("--threads", type=int, help="CPU threads for torch.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def label_command(output: Path, labeller: str, backend: str, model: str | None, base_url: str | None,
                  api_key_env: str | None, template: str | None, batch_size: int, concurrency: int, max_tokens: int,
                  attempts: int, meld_root: Path, manifests: tuple[Path, ...], audio_manifests: tuple[Path, ...],
                  asr_backend: str, limit: int | None, seed: int, device: str, threads: int | None,
                  no_progress: bool) -> None:
    """Label the unlabelled pool positive / negative / neutral (cached; rerun to resume).

    \b
    Examples:
      spokenemo silver label --labeller vader -o runs/silver/labels/vader.jsonl
      spokenemo silver label --labeller llm --limit 1000 -o runs/silver/labels/smollm2.jsonl
      spokenemo silver label --labeller llm --backend openai --base-url http://127.0.0.1:8080/v1 -o l.jsonl
    """
    _threads(threads)
    console = Console(highlight=False)
    api = _api()
    pool = api.silver_pool(meld_root, manifests=manifests, audio_manifests=audio_manifests,
                           asr_backend=asr_backend, limit=limit, seed=seed)
    console.print(f"pool: {pool.summary()}")
    options = {"model": model, "base_url": base_url, "api_key_env": api_key_env, "concurrency": concurrency,
               "device": device, "batch_size": batch_size}
    kind_takes = BACKEND_SETTINGS[backend]
    stats = api.label_silver(output, pool, labeller=labeller, backend=backend,
                             backend_options={k: v for k, v in options.items() if k in kind_takes},
                             template=template, max_tokens=max_tokens, attempts=attempts, progress=not no_progress)
    console.print(f"{stats.done} labelled now ({stats.valid} valid), {stats.cached} cached, "
                  f"{stats.backend_errors} backend failures, {stats.per_minute:.0f}/min")
    _print_silver(console, output, stats.model, meld_root)


@silver_group.command("train")
@click.option("--labels", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Label cache from `spokenemo silver label`.")
@click.option("--name", required=True, help="The encoder is registered as silver-<name>.")
@click.option("--base", default="minilm", show_default=True, help="Base encoder: minilm, mpnet or hf:/path.")
@click.option("--labeller-model", help="Which labeller's rows, when the cache holds several.")
@click.option("--out-root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of silver encoders (default $SPOKENEMO_SILVER_DIR or the spokenemo cache).")
@click.option("--epochs", type=float, default=10.0, show_default=True, help="Thesis: 10.")
@click.option("--lr", type=float, default=1e-4, show_default=True, help="Thesis: 1e-4.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Thesis: 32.")
@click.option("--limit", type=int, help="Train on a seeded subset of this many silver texts.")
@click.option("--max-length", type=int, default=64, show_default=True, help="Token limit per text.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=int, help="CPU threads for torch.")
@click.option("--meld-root", type=click.Path(path_type=Path), default=DEFAULT_MELD_ROOT, show_default=True,
              help="MELD, for the silver labels' agreement recorded in silver.json.")
@click.option("--fresh", is_flag=True, help="Start again instead of resuming the newest checkpoint.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train_command(labels: Path, name: str, base: str, labeller_model: str | None, out_root: Path | None,
                  epochs: float, lr: float, batch_size: int, limit: int | None, max_length: int, seed: int,
                  device: str, threads: int | None, meld_root: Path, fresh: bool, no_progress: bool) -> None:
    """Train a text encoder on silver labels and register it as silver-<name> (resumable).

    \b
    Examples:
      spokenemo silver train --labels runs/silver/labels/vader.jsonl --name minilm-vader --limit 3000 --epochs 1
      spokenemo silver train --labels l.jsonl --name mpnet-gpt --base mpnet      # the thesis recipe
    """
    _threads(threads)
    console = Console(highlight=False)
    result = _api().train_silver_encoder(labels, name, base=base, out_root=out_root, model=labeller_model,
                                      meld_root=meld_root, resume=not fresh, progress=not no_progress, epochs=epochs,
                                      lr=lr, batch_size=batch_size, limit=limit, max_length=max_length, seed=seed,
                                      device=device)
    state = "finished" if result.finished else "stopped (rerun to resume)"
    console.print(f"silver-{name}: {state}, {result.steps}/{result.total_steps} steps on {result.n_examples} texts, "
                  f"{result.seconds:.0f} s, last loss {result.final_loss}; folder {result.folder}")


COMMANDS = [silver_group]
