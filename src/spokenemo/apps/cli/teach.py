"""``spokenemo teach``: the AECoTD teacher stage (chains of thought from an LLM, cached)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from spokenemo.data.manifest import Segment, read_manifest
from spokenemo.llm.factory import BACKEND_KINDS, backend_from_settings, expected_model_name, token_counter
from spokenemo.protocols.labels import LABEL_SETS, apply_label_set, get_label_set
from spokenemo.systems.aecotd.teacher import TeacherSummary, cue_texts_for, run_teacher, select_utterances

BACKENDS = BACKEND_KINDS


def _console() -> Console:
    return Console(highlight=False)


def _labels_and_utterances(utts: list[Segment],
                           labels: str | None) -> tuple[list[Segment], list[str] | None, str | None]:
    if not labels:
        return utts, None, None
    spec = labels.strip()
    if spec not in LABEL_SETS and "," not in spec:
        spec += ","  # a single emotion is a one-class list
    label_set = get_label_set(spec)
    kept = apply_label_set(utts, label_set)
    dropped = sum(kept.dropped.values())
    note = f"label set {label_set.name}: kept {len(kept)} utterances, dropped {dropped}" if dropped else None
    return list(kept), list(label_set.names), note


@click.command("teach")
@click.option("--manifest", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Segment manifest (JSONL).")
@click.option("--cues", "cues_path", required=True, type=click.Path(path_type=Path),
              help="Cue table from `spokenemo cues` (.parquet/.jsonl or its folder).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Teacher cache to append to (JSONL); rerunning resumes it.")
@click.option("--backend", "kind", type=click.Choice(BACKENDS), default="embedded", show_default=True,
              help="embedded = SmolLM2-135M-Instruct bundled with spokenemo.")
@click.option("--model", help="Model: folder or hub id (transformers), .gguf (llamacpp), name (openai).")
@click.option("--base-url", help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1 (openai backend).")
@click.option("--api-key-env", help="Environment variable holding the API key (default OPENAI_API_KEY, "
                                    "or DEEPSEEK_API_KEY for api.deepseek.com).")
@click.option("--mode", type=click.Choice(["label", "blind"]), default="label", show_default=True,
              help="label: the teacher is told the annotated emotion and explains it; blind: it predicts.")
@click.option("--template", help="Prompt template name or YAML path (default teacher_label / teacher_blind).")
@click.option("--labels", help="Label set name (e.g. 4class) or comma-separated emotions; default: the "
                               "manifest's labels.")
@click.option("--thresholds", type=click.Path(dir_okay=False, path_type=Path),
              help="Cue thresholds JSON (fitted on a training fold); default: medians of the cue table.")
@click.option("--cue-variant", default="paper", show_default=True,
              help="Cue text variant: paper, no-fine, no-coarse, extended, n=K.")
@click.option("--limit", type=int, help="Only the first N utterances (after --seed shuffling).")
@click.option("--seed", type=int, help="Shuffle the utterances with this seed before --limit.")
@click.option("--concurrency", type=int, default=4, show_default=True, help="Requests in flight (openai).")
@click.option("--batch-size", type=int, help="Prompts generated together (transformers/embedded; default 4).")
@click.option("--max-tokens", type=int, default=160, show_default=True, help="Most tokens per answer.")
@click.option("--temperature", type=float, default=0.0, show_default=True, help="0 = greedy (deterministic).")
@click.option("--attempts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Most answers per utterance: invalid ones are asked again by sampling until one is valid "
                   "(counted from the cache, so a rerun with more attempts asks only what is still invalid).")
@click.option("--retry-temperature", type=click.FloatRange(min=0.0, min_open=True), default=0.7,
              show_default=True, help="Sampling temperature of the retries (--attempts > 1).")
@click.option("--retry-seed", type=int, default=0, show_default=True,
              help="Base of the retries' per-attempt sampling seeds (transformers, embedded, llamacpp).")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per HTTP request.")
@click.option("--device", default="auto", show_default=True, help="transformers device (auto, cpu, cuda).")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]), default="auto",
              show_default=True, help="transformers weights: auto = bfloat16 on GPUs that support it, else float32.")
@click.option("--threads", "n_threads", type=int, help="CPU threads (llamacpp).")
@click.option("--allow-download", is_flag=True, help="Let transformers fetch a hub model (off: offline only).")
@click.option("--dry-run", is_flag=True, help="Only count the requests (cached ones excluded) and tokens.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def teach_command(manifest: Path, cues_path: Path, output: Path, kind: str, model: str | None, base_url: str | None,
                  api_key_env: str | None, mode: str, template: str | None, labels: str | None,
                  thresholds: Path | None, cue_variant: str, limit: int | None, seed: int | None, concurrency: int,
                  batch_size: int | None, max_tokens: int, temperature: float, attempts: int,
                  retry_temperature: float, retry_seed: int, timeout: float, device: str, dtype: str,
                  n_threads: int | None, allow_download: bool, dry_run: bool, no_progress: bool) -> None:
    """Ask a teacher LLM to explain each utterance's emotion from its transcript and cues.

    \b
    Examples:
      spokenemo teach --manifest ravdess.jsonl --cues cues.parquet --limit 20 -o cot.jsonl
      spokenemo teach ... --attempts 3 -o cot.jsonl   # resample invalid answers up to twice
      spokenemo teach ... --backend openai --base-url http://127.0.0.1:8080/v1 -o cot.jsonl
      DEEPSEEK_API_KEY=... spokenemo teach ... --backend openai --base-url https://api.deepseek.com/v1 \\
          --model deepseek-reasoner --concurrency 8 --max-tokens 2048 -o cot.jsonl
    """
    console = _console()
    utts, label_list, note = _labels_and_utterances(read_manifest(manifest), labels)
    if note:
        console.print(note)
    chosen = select_utterances(utts, limit=limit, seed=seed)
    texts, source = cue_texts_for(cues_path, keys=None if thresholds else [u.key for u in utts],
                                  thresholds=thresholds, variant=cue_variant)
    console.print(f"cue text: {source}")
    common = {"mode": mode, "template": template, "labels": label_list or None, "max_tokens": max_tokens,
              "temperature": temperature, "attempts": attempts, "retry_temperature": retry_temperature,
              "retry_seed": retry_seed}
    if dry_run:
        summary = run_teacher(chosen, texts, output, model_name=expected_model_name(kind, model), dry_run=True,
                              count_tokens=token_counter(kind, model), **common)
        _print_dry_run(console, summary, output, max_tokens, exact=kind in ("embedded", "transformers"))
        return
    # every flag goes in; the backend takes the ones that apply to its kind
    flags = {"model": model, "base_url": base_url, "api_key_env": api_key_env, "concurrency": concurrency,
             "timeout": timeout, "device": device, "batch_size": batch_size or 4, "dtype": dtype,
             "cpu_bf16": dtype == "bfloat16", "allow_download": allow_download, "n_threads": n_threads}
    backend = backend_from_settings(kind, flags, shared=flags)
    try:
        summary = run_teacher(chosen, texts, output, backend=backend, progress=not no_progress, **common)
    finally:
        backend.close()
    _print_summary(console, summary)


def _print_dry_run(console: Console, s: TeacherSummary, output: Path, max_tokens: int, *, exact: bool) -> None:
    console.print(f"{s.todo} requests to send ({s.cached} of {s.total} cached in {output}); "
                  f"prompt tokens {'' if exact else '~'}{s.est_prompt_tokens:,}, completion tokens "
                  f"<= {s.est_completion_tokens:,} (max {max_tokens} each); model {s.model}")
    if s.attempts > 1:
        console.print(f"retries: {s.retry_todo} cached utterances without a valid answer will be asked "
                      f"again (up to {s.attempts} answers each; tokens above count every possible retry); "
                      f"{s.valid_total} of {s.total} already valid")
    _print_skipped(console, s.skipped)


def _print_skipped(console: Console, skipped: dict[str, list[str]]) -> None:
    for reason, keys in skipped.items():
        more = f" (first: {', '.join(keys[:3])})" if keys else ""
        console.print(f"[yellow]skipped {len(keys)} utterances: {reason}{more}[/yellow]")


def _print_summary(console: Console, s: TeacherSummary) -> None:
    table = Table(title=f"teacher {Path(s.model).name} ({s.mode}, {s.template}) -> {s.output}", show_header=False)
    table.add_row("utterances", str(s.total))
    table.add_row("already cached", str(s.cached))
    table.add_row("answered now", str(s.done))
    table.add_row("valid", f"{s.valid}/{s.done}" + (f" ({100 * s.valid / s.done:.0f} %)" if s.done else ""))
    if s.attempts > 1:
        table.add_row("retried (sampling)", f"{s.retried} utterances -> {s.recovered} valid ({s.retries} answers)")
        table.add_row("valid in cache", f"{s.valid_total}/{s.total} (up to {s.attempts} answers each)")
    if s.mode == "blind" and s.done:
        table.add_row("agree with label", f"{s.agreement}/{s.done}")
    if s.backend_errors:
        table.add_row("[red]backend errors[/red]", f"{s.backend_errors} (asked again on the next run)")
    if s.done or s.retries:
        table.add_row("throughput", f"{s.per_minute:.1f} utterances/min ({s.seconds:.0f} s"
                      + (", with retries)" if s.retries else ")"))
    for reason, n in s.failures.most_common(8):
        table.add_row(f"invalid: {reason}", str(n))
    for reason, n in s.retry_failures.most_common(5):
        table.add_row(f"retry invalid: {reason}", str(n))
    console.print(table)
    _print_skipped(console, s.skipped)


COMMANDS = [teach_command]
