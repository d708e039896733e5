"""The unlabelled pool: transcripts whose labels the labeller and the student never see.

Two sources (thesis.md 2.4):

- text manifests with their labels hidden: by default MELD train and EmoryNLP train + dev
  (:func:`default_pool`); the test split of any corpus never enters the pool (its rows are
  counted under ``excluded`` and dropped, so a downstream test sentence is never pre-trained on);
- audio manifests, transcribed by the ASR module (:func:`pool_from_audio`).

Every item is checked before it is labelled: an empty transcript (no letter) and a non-English
one (a language tag other than English, or mostly non-Latin letters) keep their place in the pool
with a ``reason`` and are written to the label cache as skipped, never sent to a labeller.
The gold sentiment, where a corpus has one (MELD), is kept apart in :func:`gold_sentiments`, only
to measure silver quality.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spokenemo.core.errors import ConfigError
from spokenemo.core.sampling import seeded_order
from spokenemo.data.manifest import Segment
from spokenemo.data.recipes.meld import prepare_emorynlp, prepare_meld
from spokenemo.models.asr import transcribe as asr_transcribe

#: Splits that may enter the pool; ``None`` is a manifest without splits.
POOL_SPLITS: frozenset[str | None] = frozenset({"train", "dev", None})
#: Share of non-ASCII letters above which a transcript counts as non-English.
NON_LATIN_SHARE = 0.3
DEFAULT_MELD_ROOT = Path("../shared/data/meld")


@dataclass(frozen=True)
class PoolItem:
    """One unlabelled transcript: ``key``, ``text``, where it came from, and why it is skipped
    (``reason``; ``None`` = to be labelled)."""

    key: str
    text: str
    source: str = ""
    reason: str | None = None


@dataclass
class Pool:
    """The items and what was left out before they were built (``excluded``: reason -> count)."""

    items: list[PoolItem]
    excluded: Counter = field(default_factory=Counter)

    def usable(self) -> list[PoolItem]:
        """Items to label (no skip reason)."""
        return [i for i in self.items if i.reason is None]

    def skipped(self) -> Counter:
        """Skip reasons and their counts."""
        return Counter(i.reason.split(":")[0] for i in self.items if i.reason)

    def subset(self, limit: int | None, seed: int = 0) -> Pool:
        """The first ``limit`` items in a seeded order (nested: a smaller limit is a prefix)."""
        if limit is None or limit >= len(self.items):
            return self
        return Pool(seeded_order(self.items, seed)[:limit], Counter(self.excluded))

    def summary(self) -> dict[str, object]:
        by_source = Counter(i.source for i in self.items)
        return {"items": len(self.items), "usable": len(self.usable()), "skipped": dict(self.skipped()),
                "excluded": dict(self.excluded), "by_source": dict(by_source)}


def text_problem(text: str | None, language: str | None = None) -> str | None:
    """Why ``text`` cannot be labelled (``"empty"``, ``"non-english: ..."``), or None.

    >>> text_problem("  ... ")
    'empty: no letters'
    >>> text_problem("Ich bin so froh", language="de")
    "non-english: language tag 'de'"
    >>> text_problem("Привет, как дела?")
    'non-english: 100% of letters non-Latin'
    >>> text_problem("Okay!") is None
    True
    """
    letters = [c for c in (text or "") if c.isalpha()]
    if not letters:
        return "empty: no letters"
    if language and language.lower().split("-")[0] not in ("en", "eng", "english"):
        return f"non-english: language tag {language!r}"
    share = sum(not c.isascii() for c in letters) / len(letters)
    if share > NON_LATIN_SHARE:
        return f"non-english: {share:.0%} of letters non-Latin"
    return None


def _source(u: Segment) -> str:
    return f"{u.corpus or 'manifest'}/{u.split or 'all'}"


def pool_from_segments(segments: Iterable[Segment], *, splits: Iterable[str | None] = POOL_SPLITS) -> Pool:
    """A pool of the segments' transcripts (labels dropped); test-split rows are excluded.

    Parameters
    ----------
    segments : manifest rows with ``text``.
    splits : splits allowed in (``"test"`` is never allowed, whatever is passed).
    """
    allowed = set(splits) - {"test"}
    items, excluded = [], Counter()
    for u in segments:
        if u.split == "test":
            excluded["test split (never in the pool)"] += 1
            continue
        if u.split not in allowed:
            excluded[f"split {u.split!r} not asked for"] += 1
            continue
        text = (u.text or "").strip()
        items.append(PoolItem(u.key, text, _source(u), text_problem(text, u.language)))
    return Pool(items, excluded)


def default_pool(meld_root: str | Path = DEFAULT_MELD_ROOT, emorynlp_root: str | Path | None = None) -> Pool:
    """MELD train and EmoryNLP train + dev (thesis.md 2.4); their test splits are never read."""
    segments = prepare_meld(meld_root, splits=("train",), with_duration=False)
    segments += prepare_emorynlp(emorynlp_root or meld_root, splits=("train", "dev"), with_duration=False)
    return pool_from_segments(segments, splits=("train", "dev"))


def pool_from_audio(segments: Sequence[Segment], transcribe: Callable[[Segment], str]) -> Pool:
    """A pool of ASR transcripts of audio segments (test-split rows excluded).

    ``transcribe(segment) -> str`` is the recogniser (:func:`asr_transcriber` wraps the ASR
    module; tests pass a fake). A recogniser error is kept as the item's reason.
    """
    items, excluded = [], Counter()
    for u in segments:
        if u.split == "test":
            excluded["test split (never in the pool)"] += 1
            continue
        if not u.path:
            items.append(PoolItem(u.key, "", _source(u), "no audio: the segment has no path"))
            continue
        try:
            text = (transcribe(u) or "").strip()
        except Exception as err:  # noqa: BLE001 - one bad clip must not stop the pool
            items.append(PoolItem(u.key, "", _source(u), f"asr failed: {type(err).__name__}: {err}"))
            continue
        items.append(PoolItem(u.key, text, _source(u), text_problem(text, u.language)))
    return Pool(items, excluded)


def asr_transcriber(backend: str = "auto", model_path: str | Path | None = None) -> Callable[[Segment], str]:
    """``transcribe(segment)`` through :func:`spokenemo.models.asr.transcribe` (start/end honoured)."""
    def run(u: Segment) -> str:
        return asr_transcribe(str(u.path), backend=backend, model_path=model_path, start=u.start, end=u.end)

    return run


def gold_sentiments(segments: Iterable[Segment]) -> dict[str, str]:
    """``key -> gold sentiment`` of segments that carry one (MELD's ``Sentiment`` column)."""
    out = {}
    for u in segments:
        value = str(u.extra.get("sentiment", "")).strip().lower()
        if value in ("negative", "neutral", "positive"):
            out[u.key] = value
    return out


def meld_train_gold(meld_root: str | Path = DEFAULT_MELD_ROOT) -> dict[str, str]:
    """MELD train's gold sentiments (silver quality is measured against them)."""
    return gold_sentiments(prepare_meld(meld_root, splits=("train",), with_duration=False))


def check_pool(pool: Pool) -> None:
    """Raise a :class:`ConfigError` when nothing in ``pool`` can be labelled."""
    if not pool.usable():
        raise ConfigError(f"the pool has no usable transcript ({pool.summary()})",
                          hint="give text manifests with train/dev rows, or audio the recogniser can transcribe")
