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

Executors (:mod:`spokenemo.features.executor`): ``"process"`` (a local process pool, ``workers``
processes; 1 = in this process) or ``"dask"`` (``dask.distributed``: ``scheduler`` is an address
such as ``tcp://host:8786`` or a ``Client``). Results are the same whichever executor computed
them. An interrupted run (Ctrl-C, SIGTERM) raises
:class:`~spokenemo.features.executor.Interrupted` after the workers are stopped.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.audio import AudioWarning
from spokenemo.core.cache import JsonlLog, claim_fingerprint, read_rows, write_parquet
from spokenemo.core.errors import ConfigError, SpokenemoError
from spokenemo.core.fileio import atomic_write, write_jsonl
from spokenemo.data.manifest import Segment, read_manifest
from spokenemo.features.cues.config import CueExtractionConfig
from spokenemo.features.cues.extract import extract_cues, load_for_cues
from spokenemo.features.executor import Executor, Outcome, check_executor, run_items

log = logging.getLogger(__name__)

META_COLUMNS = ("key", "path", "start", "end", "label", "speaker", "gender", "corpus")
NOT_FOUND_HINT = "extract one with `spokenemo cues --manifest M.jsonl -o OUT.parquet`"


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
    """The cue row of one file, with the audio warnings met while loading it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AudioWarning)
        y = load_for_cues(job.path, start=job.start, end=job.end, config=config)
    row = extract_cues(y, config).to_row()
    row["warnings"] = [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
    return row


def _error_record(job: _Job, err: Exception) -> dict[str, Any]:
    """``{"key", "path", "error", "message"}``: the typed error's text, or an unexpected one's."""
    if isinstance(err, SpokenemoError):
        message = str(err)
    else:
        log.debug("cue extraction failed for %s", job.path, exc_info=err)
        message = f"{job.path}: unexpected {type(err).__name__}: {err}"
    return {"key": job.key, "path": job.path, "error": type(err).__name__, "message": message}


# --- the table's files --------------------------------------------------------------------------
def _meta(u: Segment) -> dict[str, Any]:
    return {"key": u.key, "path": u.path, "start": u.start, "end": u.end, "label": u.label,
            "speaker": u.speaker, "gender": u.gender, "corpus": u.corpus}


def _source(u: Segment) -> tuple[Any, ...]:
    return (u.path, u.start, u.end)


class _Journal:
    """The :class:`~spokenemo.core.cache.ItemStore` of one cue table: rows reused from the
    finished table and the journal of an interrupted run; new rows appended to the journal,
    errors to the run's error log."""

    def __init__(self, paths: CueTablePaths, utts: Sequence[Segment]) -> None:
        self.part = JsonlLog(paths.part, what="cue table journal")
        self.errors = JsonlLog(paths.errors, what="cue error log")
        self.by_key = {u.key: u for u in utts}
        self.done: dict[str, dict[str, Any]] = {}
        for log_ in (JsonlLog(paths.jsonl, what="cue table"), self.part):  # the final table, then the journal
            for row in log_.read():
                u = self.by_key.get(row.get("key", ""))
                if u is not None and (row.get("path"), row.get("start"), row.get("end")) == _source(u):
                    self.done[u.key] = row
        self.error_records: list[dict[str, Any]] = []

    def has(self, key: str, source: Any = None) -> bool:
        return key in self.done

    def put(self, key: str, value: dict[str, Any], *, source: Any = None) -> None:
        row = {**_meta(self.by_key[key]), **value}
        self.part.append(row)
        self.done[key] = row

    def put_error(self, key: str, error: dict[str, Any], *, source: Any = None) -> None:
        self.errors.append(error)

    def rows(self, utts: Sequence[Segment]) -> list[dict[str, Any]]:
        """The table: one row per utterance that has one, in manifest order."""
        return [self.done[u.key] for u in utts if u.key in self.done]


def _prepare(paths: CueTablePaths, config: CueExtractionConfig, restart: bool) -> None:
    """Check (or, with ``restart``, discard) an earlier table at ``paths``; record the settings."""
    paths.parquet.parent.mkdir(parents=True, exist_ok=True)
    if restart:
        for p in (paths.part, paths.jsonl, paths.parquet, paths.errors):
            p.unlink(missing_ok=True)
    claim_fingerprint(paths.settings, config.fingerprint(), config.model_dump(mode="json"),
                      resume=paths.part.exists() or paths.jsonl.exists(), what="cue table",
                      hint="rerun with restart=True / --restart to recompute it, or write elsewhere")
    with atomic_write(paths.errors):                # failures are retried: start a fresh error log
        pass


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
        raise ConfigError(f"{path}: cue table not found", hint=NOT_FOUND_HINT)
    rows = read_rows(path, what="cue table",
                     hint="give the .parquet or .jsonl written by `spokenemo cues --manifest`")
    if rows and "key" not in rows[0]:
        raise ConfigError(f"{path}: not a cue table (no 'key' column)")
    return rows


def read_cue_settings(path: str | Path) -> dict[str, Any] | None:
    """The extraction settings recorded beside a cue table (``{"fingerprint", "config"}``), or
    None when there are none (a table not written by :func:`extract_manifest`)."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".parquet":
        settings = CueTablePaths.for_output(path).settings
    else:
        settings = path.with_name(path.name[: -len(path.suffix)] + ".settings.json") if path.suffix else path
    if not settings.is_file():
        return None
    try:
        return json.loads(settings.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{settings}: not valid JSON ({err.msg})",
                          hint="rewrite the table with `spokenemo cues --manifest ... --restart`") from None


def extract_manifest(
    manifest: str | Path | Sequence[Segment],
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
    manifest : path or sequence of Segment
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
    Interrupted
        SIGINT/SIGTERM (a ``KeyboardInterrupt``): the workers are stopped, every finished row
        is in the journal, and ``done``/``total`` say how far the run got.
    """
    cfg = config or CueExtractionConfig()
    check_executor(executor, workers)
    utts, base = _utterances(manifest, base_dir)
    paths = CueTablePaths.for_output(out)
    _prepare(paths, cfg, restart)
    journal = _Journal(paths, utts)

    def report(u: Segment, outcome: Outcome) -> None:
        if on_result is not None:
            on_result({"key": u.key, "row": outcome.value} if outcome.ok else {"key": u.key, "error": outcome.error})

    run = run_items(utts, _extract_job, journal, key=lambda u: u.key, source=_source,
                    job=lambda u: _Job(u.key, str(u.audio_path(base)), u.start, u.end), args=(cfg,),
                    workers=workers, executor=executor, scheduler=scheduler, chunk_size=chunk_size,
                    on_error=_error_record, progress=progress, desc="cues", unit="utt", on_result=report)
    rows = journal.rows(utts)
    write_parquet(paths.parquet, rows, empty_columns=META_COLUMNS)
    write_jsonl(paths.jsonl, rows)
    journal.part.clear()
    return BatchSummary(paths=paths, total=len(utts), done=len(rows), computed=run.computed, errors=run.errors)


def _utterances(manifest: str | Path | Sequence[Segment],
                base_dir: str | Path | None) -> tuple[list[Segment], Path]:
    """The utterances (all with audio), and the folder their relative audio paths resolve against."""
    if isinstance(manifest, (str, Path)):
        base = Path(base_dir) if base_dir is not None else Path(manifest).resolve().parent
        utts = read_manifest(manifest)
    else:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        utts = list(manifest)
    no_audio = [u.key for u in utts if u.path is None]
    if no_audio:
        raise ConfigError(f"{len(no_audio)} utterance(s) have no audio path (e.g. {no_audio[:3]})",
                          hint="cues need audio; filter text-only utterances out of the manifest")
    return utts, base
