"""Cue tables for whole manifests: parallel, resumable, with per-file error records.

:func:`extract_manifest` writes, for an output ``OUT`` (``OUT.parquet``, or a folder holding
``cues.parquet``):

- ``cues.parquet`` and ``cues.jsonl``: one row per utterance, in manifest order: ``key``,
  ``path``, ``start``, ``end``, ``label``, ``speaker``, ``gender``, ``corpus``, the raw cue values
  (:meth:`spokenemo.features.cues.UtteranceCues.to_row`), ``pitch_seg_N``/``intensity_seg_N`` lists and
  ``warnings`` (audio warnings met while loading). Both are written atomically at the end.
- ``cues.part.jsonl``: the journal. Every finished row is appended (and flushed) as soon as it
  arrives, so an interrupted run loses at most the rows in flight; a rerun reads the journal
  (ignoring a torn last line), computes only what is missing and finally removes it.
- ``cues.errors.jsonl``: one line per utterance that failed (``key``, ``path``, ``error`` type,
  ``message``: the typed :class:`~spokenemo.core.errors.AudioError` text); the run goes on. Failed
  utterances are retried by the next run.
- ``cues.settings.json``: the extraction settings and their fingerprint. A rerun with other
  settings refuses to mix rows unless ``restart`` is set.

Executors: ``"process"`` (a local process pool, ``workers`` processes; 1 = in this process) or
``"dask"`` (``dask.distributed``: ``scheduler`` is an address such as ``tcp://host:8786`` or a
``Client``). Results are the same whichever executor computed them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spokenemo.audio import AudioWarning
from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import append_jsonl, atomic_write, read_jsonl_tolerant, write_jsonl
from spokenemo.data.manifest import Utterance, read_manifest
from spokenemo.features.cues.config import CueExtractionConfig
from spokenemo.features.cues.extract import extract_cues, load_for_cues

log = logging.getLogger(__name__)

META_COLUMNS = ("key", "path", "start", "end", "label", "speaker", "gender", "corpus")
Executor = Literal["process", "dask"]


@dataclass(frozen=True)
class CueTablePaths:
    """The files of one cue table (see the module docstring)."""

    parquet: Path
    jsonl: Path
    part: Path
    errors: Path
    settings: Path

    @classmethod
    def for_output(cls, out: str | Path) -> CueTablePaths:
        """``OUT.parquet`` (or ``OUT.jsonl``) -> ``OUT.parquet``, ``OUT.jsonl``, ...; any other path
        is a folder holding ``cues.parquet``, ``cues.jsonl``, ..."""
        out = Path(out)
        stem = out.with_suffix("") if out.suffix in (".parquet", ".jsonl") else out / "cues"
        return cls(parquet=stem.with_name(stem.name + ".parquet"), jsonl=stem.with_name(stem.name + ".jsonl"),
                   part=stem.with_name(stem.name + ".part.jsonl"), errors=stem.with_name(stem.name + ".errors.jsonl"),
                   settings=stem.with_name(stem.name + ".settings.json"))


@dataclass
class BatchSummary:
    """What :func:`extract_manifest` did.

    Attributes
    ----------
    paths : CueTablePaths
    total : int
        Utterances in the manifest.
    done : int
        Rows in the table now.
    computed : int
        Rows computed by this run (the rest were reused from an earlier run).
    errors : list of dict
        This run's error records.
    """

    paths: CueTablePaths
    total: int
    done: int
    computed: int
    errors: list[dict[str, Any]] = field(default_factory=list)


# --- one utterance (runs in workers) ------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    key: str
    path: str
    start: float | None
    end: float | None


def _extract_job(job: _Job, config: CueExtractionConfig) -> dict[str, Any]:
    """``{"key", "row"}`` or ``{"key", "error"}``; never raises for a bad file."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudioWarning)
            y = load_for_cues(job.path, start=job.start, end=job.end, config=config)
        cues = extract_cues(y, config)
    except SpokenemoError as err:
        return {"key": job.key, "error": {"key": job.key, "path": job.path, "error": type(err).__name__,
                                          "message": str(err)}}
    except Exception as err:  # noqa: BLE001 - one odd file must not end a long run; it is recorded
        log.debug("cue extraction failed for %s", job.path, exc_info=True)
        return {"key": job.key, "error": {"key": job.key, "path": job.path, "error": type(err).__name__,
                                          "message": f"{job.path}: unexpected {type(err).__name__}: {err}"}}
    row = cues.to_row()
    row["warnings"] = [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
    return {"key": job.key, "row": row}


def _extract_chunk(jobs: Sequence[_Job], config_json: str) -> list[dict[str, Any]]:
    config = CueExtractionConfig.model_validate_json(config_json)
    return [_extract_job(job, config) for job in jobs]


# --- executors --------------------------------------------------------------------------------
def _chunks(items: Sequence[_Job], size: int) -> list[list[_Job]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _run_inline(jobs: Sequence[_Job], config_json: str, chunk_size: int) -> Iterator[dict[str, Any]]:
    for chunk in _chunks(jobs, chunk_size):
        yield from _extract_chunk(chunk, config_json)


def _run_processes(jobs: Sequence[_Job], config_json: str, workers: int, chunk_size: int) -> Iterator[dict[str, Any]]:
    # spawn: workers start clean (no inherited threads or locks), same behaviour on every OS
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        args = [(chunk, config_json) for chunk in _chunks(jobs, chunk_size)]
        for results in pool.imap_unordered(_star_chunk, args):
            yield from results


def _star_chunk(args: tuple[Sequence[_Job], str]) -> list[dict[str, Any]]:
    return _extract_chunk(*args)


def _run_dask(jobs: Sequence[_Job], config_json: str, scheduler: Any, chunk_size: int) -> Iterator[dict[str, Any]]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError as err:  # pragma: no cover - dask is a declared extra
        raise ConfigError("executor 'dask' needs dask.distributed",
                          hint="pip install 'dask[distributed]' or use --executor process") from err
    if scheduler is None:
        raise ConfigError("executor 'dask' needs a scheduler address",
                          hint="pass --scheduler tcp://HOST:8786 (the address `dask scheduler` prints)")
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler) if own else scheduler
    except OSError as err:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {err}",
                          hint="start it with `dask scheduler` and workers with `dask worker ADDRESS`") from None
    try:
        futures = [client.submit(_extract_chunk, chunk, config_json, pure=False)
                   for chunk in _chunks(jobs, chunk_size)]
        try:
            for future in as_completed(futures):
                yield from future.result()
        finally:
            client.cancel([f for f in futures if not f.done()])
    finally:
        if own:
            client.close()


# --- table files ------------------------------------------------------------------------------
def _meta(u: Utterance) -> dict[str, Any]:
    return {"key": u.key, "path": u.path, "start": u.start, "end": u.end, "label": u.label,
            "speaker": u.speaker, "gender": u.gender, "corpus": u.corpus}


def _same_source(row: dict[str, Any], u: Utterance) -> bool:
    return row.get("path") == u.path and row.get("start") == u.start and row.get("end") == u.end


def _check_settings(paths: CueTablePaths, config: CueExtractionConfig, restart: bool) -> None:
    settings = {"fingerprint": config.fingerprint(), "config": config.model_dump(mode="json")}
    have_rows = paths.part.exists() or paths.jsonl.exists()
    if have_rows and not restart:
        old = None
        with contextlib.suppress(OSError, json.JSONDecodeError):
            old = json.loads(paths.settings.read_text(encoding="utf-8"))
        if not old or old.get("fingerprint") != settings["fingerprint"]:
            raise ConfigError(f"{paths.parquet.parent}: the cue table there was computed with other settings "
                              f"(or its {paths.settings.name} is missing)",
                              hint="rerun with restart=True / --restart to recompute it, or write elsewhere")
    if restart:
        for p in (paths.part, paths.jsonl, paths.parquet, paths.errors):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    with atomic_write(paths.settings) as fh:
        json.dump(settings, fh, indent=1)
        fh.write("\n")


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows) if rows else pa.table({c: pa.array([], pa.string()) for c in META_COLUMNS})
    with atomic_write(path, "wb") as fh:
        pq.write_table(table, fh)


def read_cue_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a cue table (``.parquet`` or ``.jsonl``, or a folder holding ``cues.parquet``).

    Raises
    ------
    ConfigError
        The file is missing or not a cue table.
    """
    path = Path(path)
    if path.is_dir():
        path = CueTablePaths.for_output(path).parquet
    if not path.is_file():
        raise ConfigError(f"{path}: cue table not found",
                          hint="extract one with `spokenemo cues --manifest M.jsonl -o OUT.parquet`")
    if path.suffix == ".jsonl":
        rows = read_jsonl_tolerant(path)
    else:
        try:
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        except Exception as err:  # noqa: BLE001 - pyarrow raises several types for bad files
            raise ConfigError(f"{path}: not a readable Parquet file ({err})",
                              hint="give the .parquet or .jsonl written by `spokenemo cues --manifest`") from None
    if rows and "key" not in rows[0]:
        raise ConfigError(f"{path}: not a cue table (no 'key' column)")
    return rows


def extract_manifest(
    manifest: str | Path | Sequence[Utterance],
    out: str | Path,
    *,
    config: CueExtractionConfig | None = None,
    workers: int = 1,
    executor: Executor = "process",
    scheduler: Any = None,
    base_dir: str | Path | None = None,
    restart: bool = False,
    progress: bool = True,
    chunk_size: int = 4,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> BatchSummary:
    """Extract the cues of every utterance of a manifest into a cue table (resumable).

    Parameters
    ----------
    manifest : path or sequence of Utterance
        A JSONL manifest (relative audio paths resolve against its folder) or utterances.
    out : path
        ``OUT.parquet`` (siblings ``OUT.jsonl``, ``OUT.part.jsonl``, ``OUT.errors.jsonl``,
        ``OUT.settings.json``) or a folder (``cues.*`` inside).
    config : CueExtractionConfig, optional
        Extraction settings (reference defaults).
    workers : int
        Processes for ``executor="process"`` (1: no pool). Ignored by Dask.
    executor : {"process", "dask"}
        Where the work runs.
    scheduler : str or dask.distributed.Client, optional
        The Dask scheduler (required for ``executor="dask"``).
    base_dir : path, optional
        Folder relative audio paths resolve against (default: the manifest's folder, or the
        working directory for a sequence of utterances).
    restart : bool
        Discard an earlier (partial) table at ``out`` instead of resuming it.
    progress : bool
        Show a tqdm progress bar.
    chunk_size : int
        Utterances per task sent to a worker.
    on_result : callable, optional
        Called with each result as it arrives (after it is journaled); used by tests and
        progress reporting.

    Returns
    -------
    BatchSummary

    Raises
    ------
    ManifestError
        The manifest is missing or malformed.
    ConfigError
        Bad settings, an existing table with other settings, or an unreachable Dask scheduler.
    """
    from tqdm.auto import tqdm

    cfg = config or CueExtractionConfig()
    if isinstance(manifest, (str, Path)):
        base = Path(base_dir) if base_dir is not None else Path(manifest).resolve().parent
        utts = read_manifest(manifest)
    else:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        utts = list(manifest)
    if executor not in ("process", "dask"):
        raise ConfigError(f"unknown executor {executor!r}", hint="use 'process' or 'dask'")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    no_audio = [u.key for u in utts if u.path is None]
    if no_audio:
        raise ConfigError(f"{len(no_audio)} utterance(s) have no audio path (e.g. {no_audio[:3]})",
                          hint="cues need audio; filter text-only utterances out of the manifest")

    paths = CueTablePaths.for_output(out)
    paths.parquet.parent.mkdir(parents=True, exist_ok=True)
    _check_settings(paths, cfg, restart)

    by_key = {u.key: u for u in utts}
    done: dict[str, dict[str, Any]] = {}
    for source in (paths.jsonl, paths.part):      # the final table of a finished run, then the journal
        for row in read_jsonl_tolerant(source):
            u = by_key.get(row.get("key", ""))
            if u is not None and _same_source(row, u):
                done[u.key] = row
    todo = [u for u in utts if u.key not in done]
    with atomic_write(paths.errors):                # failures are retried: start a fresh error log
        pass

    jobs = [_Job(u.key, str(u.audio_path(base)), u.start, u.end) for u in todo]
    config_json = cfg.model_dump_json()
    if executor == "dask":
        results = _run_dask(jobs, config_json, scheduler, chunk_size)
    elif workers > 1 and len(jobs) > 1:
        results = _run_processes(jobs, config_json, workers, chunk_size)
    else:
        results = _run_inline(jobs, config_json, chunk_size)

    errors: list[dict[str, Any]] = []
    computed = 0
    with tqdm(total=len(jobs), desc="cues", unit="utt", disable=not progress) as bar:
        for result in results:
            u = by_key[result["key"]]
            if "row" in result:
                row = {**_meta(u), **result["row"]}
                append_jsonl(paths.part, row)
                done[u.key] = row
                computed += 1
            else:
                append_jsonl(paths.errors, result["error"])
                errors.append(result["error"])
            if on_result is not None:
                on_result(result)
            bar.update(1)

    rows = [done[u.key] for u in utts if u.key in done]
    _write_parquet(paths.parquet, rows)
    write_jsonl(paths.jsonl, rows)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.part)
    return BatchSummary(paths=paths, total=len(utts), done=len(rows), computed=computed, errors=errors)
