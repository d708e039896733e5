"""One executor: map a function over a manifest's segments, resumably, with per-item errors.

:func:`map_items` runs ``fn(item, *args)`` for every item in this process, in a local process
pool (``executor="process"``, ``workers`` processes) or on a Dask cluster (``executor="dask"``,
``scheduler`` an address such as ``tcp://host:8786`` or a ``dask.distributed.Client``; Dask is
an optional extra). Items travel in chunks of ``chunk_size``; an exception raised by ``fn`` for
one item becomes that item's error record (``on_error(item, err)``) and the run goes on.
Results are the same whichever executor computed them.

:func:`run_items` adds the resume: items a :class:`~spokenemo.core.cache.ItemStore` already
holds are skipped, every result or error is saved as soon as it arrives, and errors are
computed again by the next run.

Interrupting a run (Ctrl-C / SIGINT, or SIGTERM) raises :class:`Interrupted` (a
``KeyboardInterrupt``) in the parent, which knows how many items are saved. Pool workers
ignore SIGINT (the parent handles it) and the pool is shut down cleanly, so an interrupted run
prints no worker tracebacks and leaks no semaphores.

>>> from spokenemo.core.cache import ResultStore                            # doctest: +SKIP
>>> store = ResultStore.at("cache", "duration", "v1")                       # doctest: +SKIP
>>> run_items(segments, duration_of, store, key=lambda s: s.key, workers=4)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tqdm.auto import tqdm

from spokenemo.core.cache import ItemStore
from spokenemo.core.errors import ConfigError
from spokenemo.core.lazy import optional_import

Executor = Literal["process", "dask"]
EXECUTORS = ("process", "dask")


@dataclass(frozen=True)
class Outcome:
    """What one item gave: ``value`` (``fn``'s result) or ``error`` (``on_error``'s record)."""

    index: int
    value: Any = None
    error: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None


def error_record(item: Any, err: Exception) -> dict[str, str]:
    """The default error record: ``{"error": type name, "message": text}``."""
    return {"error": type(err).__name__, "message": str(err)}


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run; ``done`` of ``total`` items are saved (see :func:`run_items`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.done = 0
        self.total = 0


class SignalGuard:
    """Turns SIGINT and SIGTERM into :class:`Interrupted` (see :func:`signals_interrupt`); a
    signal that arrives while a result is being saved (:meth:`saving`) waits until it is saved."""

    SIGNUMS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.pending: int | None = None
        self._depth = 0

    def handler(self, signum: int, frame: Any) -> None:
        for s in self.SIGNUMS:  # clean-up after the first signal is not interrupted in turn
            signal.signal(s, signal.SIG_IGN)
        if self._depth:
            self.pending = signum
        else:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def saving(self) -> Iterator[None]:
        """Hold a signal back until the block is done (a row and its count are saved together)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self.pending is not None and not self._depth:
            signum, self.pending = self.pending, None
            raise Interrupted(signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[SignalGuard]:
    """While inside: SIGINT and SIGTERM raise :class:`Interrupted` in this process (main thread
    only; elsewhere signals are left alone). After the first signal both are ignored until the
    block is left, so the clean-up that follows is not interrupted in turn."""
    guard = SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    old = {s: signal.signal(s, guard.handler) for s in guard.SIGNUMS}
    try:
        yield guard
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --- running chunks ------------------------------------------------------------------------------
def _apply_chunk(fn: Callable[..., Any], chunk: Sequence[tuple[int, Any]], args: tuple[Any, ...],
                 on_error: Callable[[Any, Exception], Any]) -> list[Outcome]:
    """Runs in a worker: ``fn`` over one chunk, each exception recorded instead of raised."""
    out = []
    for index, item in chunk:
        try:
            out.append(Outcome(index, value=fn(item, *args)))
        except Exception as err:  # noqa: BLE001 - one odd item must not end a long run; it is recorded
            out.append(Outcome(index, error=on_error(item, err)))
    return out


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while workers start: an ignored signal stays ignored in a spawned child, so
    a Ctrl-C that reaches the whole process group never lands in a worker's start-up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _run_processes(call: Callable[[Any], list[Outcome]], chunks: list[Any], workers: int) -> Iterator[Outcome]:
    # spawn: workers start clean (no inherited threads or locks), same behaviour on every OS
    ctx = multiprocessing.get_context("spawn")
    with _sigint_ignored():
        pool = ctx.Pool(workers, initializer=_ignore_sigint)
    try:
        for results in pool.imap_unordered(call, chunks):
            yield from results
        pool.close()
    except BaseException:  # interrupted, or the consumer stopped early: stop the workers now
        pool.terminate()
        raise
    finally:
        pool.join()


def _run_dask(chunks: list[Any], scheduler: Any, fn: Callable[..., Any], args: tuple[Any, ...],
              on_error: Callable[[Any, Exception], Any]) -> Iterator[Outcome]:
    if scheduler is None:
        raise ConfigError("executor 'dask' needs a scheduler address",
                          hint="pass --scheduler tcp://HOST:8786 (the address `dask scheduler` prints)")
    distributed = optional_import("dask.distributed", purpose="the dask executor")
    own = not isinstance(scheduler, distributed.Client)
    try:
        client = distributed.Client(scheduler) if own else scheduler
    except OSError as err:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {err}",
                          hint="start it with `dask scheduler` and workers with `dask worker ADDRESS`") from None
    try:
        futures = [client.submit(_apply_chunk, fn, chunk, args, on_error, pure=False) for chunk in chunks]
        try:
            for future in distributed.as_completed(futures):
                yield from future.result()
        finally:
            client.cancel([f for f in futures if not f.done()])
    finally:
        if own:
            client.close()


def check_executor(executor: str, workers: int) -> None:
    """Raise a :class:`~spokenemo.core.errors.ConfigError` for an unknown executor or ``workers < 1``."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}", hint="use 'process' or 'dask'")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")


def map_items(fn: Callable[..., Any], items: Sequence[Any], *, args: tuple[Any, ...] = (), workers: int = 1,
              executor: Executor = "process", scheduler: Any = None, chunk_size: int = 4,
              on_error: Callable[[Any, Exception], Any] = error_record) -> Iterator[Outcome]:
    """Yield an :class:`Outcome` per item (in completion order; ``index`` says which item).

    Parameters
    ----------
    fn : ``fn(item, *args) -> value``; a module-level function for ``workers > 1`` or Dask (it is
        pickled, with ``items``, ``args`` and ``on_error``).
    items : the work (picklable for a pool or Dask).
    workers : processes for ``executor="process"`` (1: in this process, nothing is pickled).
    executor : ``"process"`` or ``"dask"``.
    scheduler : the Dask scheduler (an address or a ``Client``), for ``executor="dask"``.
    chunk_size : items per task sent to a worker.
    on_error : ``on_error(item, err) -> record`` for an exception raised by ``fn`` (runs where
        ``fn`` ran).

    Raises
    ------
    ConfigError
        An unknown executor, ``workers < 1``, Dask without a reachable scheduler.
    """
    check_executor(executor, workers)
    indexed = list(enumerate(items))
    size = max(1, int(chunk_size))
    chunks = [indexed[i:i + size] for i in range(0, len(indexed), size)]
    if executor == "dask":
        return _run_dask(chunks, scheduler, fn, args, on_error)
    call = _ChunkCall(fn, args, on_error)
    if workers > 1 and len(indexed) > 1:
        return _run_processes(call, chunks, workers)
    return (outcome for chunk in chunks for outcome in call(chunk))


@dataclass(frozen=True)
class _ChunkCall:
    """A picklable ``chunk -> outcomes`` for the pool."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    on_error: Callable[[Any, Exception], Any]

    def __call__(self, chunk: Sequence[tuple[int, Any]]) -> list[Outcome]:
        return _apply_chunk(self.fn, chunk, self.args, self.on_error)


# --- resumable runs ------------------------------------------------------------------------------
@dataclass
class RunSummary:
    """What :func:`run_items` did: ``total`` items, ``cached`` already in the store, ``computed``
    now, and this run's error records."""

    total: int
    cached: int
    computed: int = 0
    errors: list[Any] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Items with a result in the store now."""
        return self.cached + self.computed


def run_items(items: Sequence[Any], fn: Callable[..., Any], store: ItemStore, *, key: Callable[[Any], str],
              source: Callable[[Any], Any] = lambda item: None, job: Callable[[Any], Any] | None = None,
              args: tuple[Any, ...] = (), workers: int = 1, executor: Executor = "process", scheduler: Any = None,
              chunk_size: int = 4, on_error: Callable[[Any, Exception], Any] = error_record,
              progress: bool = False, desc: str = "items", unit: str = "item",
              on_result: Callable[[Any, Outcome], None] | None = None) -> RunSummary:
    """Compute what ``store`` lacks, saving each result or error as soon as it arrives.

    Parameters
    ----------
    items : the segments (or any items); ``key(item)`` names each in the store and
        ``source(item)`` says what its result is computed from (a changed source is recomputed).
    fn, args, workers, executor, scheduler, chunk_size, on_error : as in :func:`map_items`;
        ``fn`` gets ``job(item)`` (default: the item itself).
    store : where results go (:class:`~spokenemo.core.cache.ResultStore`, ``ArrayStore`` or
        any :class:`~spokenemo.core.cache.ItemStore`).
    progress, desc, unit : a tqdm bar.
    on_result : called with ``(item, outcome)`` after the outcome is saved.

    Raises
    ------
    Interrupted
        SIGINT/SIGTERM; its ``done`` and ``total`` say how far the run got (all saved).
    """
    todo = [item for item in items if not store.has(key(item), source(item))]
    summary = RunSummary(total=len(items), cached=len(items) - len(todo))
    jobs = [job(item) for item in todo] if job is not None else todo
    with signals_interrupt() as guard, tqdm(total=len(todo), desc=desc, unit=unit, disable=not progress) as bar:
        try:
            for outcome in map_items(fn, jobs, args=args, workers=workers, executor=executor,
                                     scheduler=scheduler, chunk_size=chunk_size, on_error=on_error):
                item = todo[outcome.index]
                with guard.saving():
                    if outcome.ok:
                        store.put(key(item), outcome.value, source=source(item))
                        summary.computed += 1
                    else:
                        store.put_error(key(item), outcome.error, source=source(item))
                        summary.errors.append(outcome.error)
                if on_result is not None:
                    on_result(item, outcome)
                bar.update(1)
        except Interrupted as err:
            err.done, err.total = summary.done, summary.total
            raise
    return summary
