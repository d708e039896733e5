"""Folds a corpus defines itself: its official train/dev/test split, and the MELD 4-class test sets."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from spokenemo.core.errors import ProtocolError
from spokenemo.core.sampling import seeded_rank
from spokenemo.data.manifest import Segment
from spokenemo.protocols.fold import (
    Fold,
    label_set_name,
    make_fold,
    select_corpora,
    sorted_names,
    speaker_ids,
    split_conversations,
)
from spokenemo.protocols.labels import apply_label_set, corpus_key

log = logging.getLogger(__name__)

#: Corpora whose official split puts the same speakers in train and test (TV-series characters).
SPEAKER_SHARING_SPLITS: frozenset[str] = frozenset({"meld", "emorynlp"})

_SPLIT_ALIASES = {"train": "train", "training": "train", "dev": "dev", "valid": "dev",
                  "validation": "dev", "val": "dev", "development": "dev", "test": "test",
                  "testing": "test"}

#: Seed of the balanced MELD 4-class test subset (see :func:`meld4_test_keys`).
MELD4_SEED = 0
MELD4_PER_CLASS = 60


def normalize_split(split: str | None) -> str | None:
    """``"validation"``/``"valid"``/``"val"`` -> ``"dev"``; ``None`` stays ``None``."""
    if split is None:
        return None
    try:
        return _SPLIT_ALIASES[split.strip().casefold()]
    except KeyError:
        raise ProtocolError(f"unknown split name {split!r}", hint="use train, dev (valid) or test") from None


def _split_name(split: str) -> str:
    text = split.strip().casefold()
    return _SPLIT_ALIASES.get(text, text)


def _official_parts(utterances: Sequence[Segment], test_split: str) -> tuple[dict[str, list[Segment]], Counter]:
    """train/dev/test segments by their ``split``, and the counts of the other splits left out."""
    test_name = _split_name(test_split)
    parts: dict[str, list[Segment]] = {"train": [], "dev": [], "test": []}
    unused: Counter = Counter()
    for u in utterances:
        name = _split_name(str(u.split))
        if name == test_name:
            parts["test"].append(u)
        elif name in ("train", "dev"):
            parts[name].append(u)
        else:
            unused[u.split] += 1
    if unused:
        log.warning("official split: left out %s (not train, dev or %s)",
                    ", ".join(f"{k}={v}" for k, v in sorted(unused.items())), test_split)
    return parts, unused


def official_split(utterances: Sequence[Segment], *, speaker_independent: bool | None = None,
                   test_split: str = "test", label_set: str | None = None) -> list[Fold]:
    """The corpus's own train/dev/test split (``split`` field) as one fold named ``"official"``.

    Parameters
    ----------
    speaker_independent : bool, optional
        ``True`` checks that no speaker is in two parts (and raises if one is). ``False`` declares
        the fold speaker-dependent and skips the check. ``None`` (default) infers it: ``False``
        when every segment comes from a corpus in :data:`SPEAKER_SHARING_SPLITS` (MELD,
        EmoryNLP: TV characters are in every split), ``True`` otherwise.
    test_split : str
        The split that tests (MSP-Podcast has ``test1``, ``test2``, ...). Segments of other
        splits than train, dev and this one are left out, with a warning that counts them.

    Notes
    -----
    The split is the corpus's own, so a conversation it puts in two parts is not an error: the
    fold warns and lists them in ``info["split_conversations"]``.
    """
    missing = [u.key for u in utterances if not u.split]
    if missing:
        raise ProtocolError(f"{len(missing)} utterances have no official split (e.g. {missing[:3]})",
                            hint="this corpus has no official split; use speaker-kfold or loso-speaker")
    if speaker_independent is None:
        corpora = {corpus_key(u.corpus) for u in utterances}
        speaker_independent = not corpora <= SPEAKER_SHARING_SPLITS
    if not speaker_independent:
        log.warning("official split: speakers may be in train and test (speaker_independent=False)")
    parts, unused = _official_parts(utterances, test_split)
    used = parts["train"] + parts["dev"] + parts["test"]
    speakers = None
    if speaker_independent:
        # Corpora such as MSP-Podcast leave some speakers unknown; their split is speaker-independent
        # by design, so check what can be checked and say how much could not.
        known = [u for u in used if u.speaker]
        if len(known) < len(used):
            log.warning("official split: %d of %d utterances have no speaker; independence checked on the rest",
                        len(used) - len(known), len(used))
        speakers = speaker_ids(known)
    info: dict[str, Any] = {"corpora": sorted_names(str(u.corpus) for u in used if u.corpus),
                            "test_split": test_split, "left_out": dict(sorted(unused.items()))}
    split = split_conversations(parts)
    if split:
        log.warning("official split: %d conversations have turns in two parts, e.g. %s", len(split), split[:3])
        info["split_conversations"] = split
    return [make_fold("official", parts["train"], parts["test"], parts["dev"], protocol="official",
                      speakers=speakers, label_set=label_set_name(utterances, label_set), info=info,
                      whole_conversations=False)]


# --- MELD 4-class test sets ------------------------------------------------------------------
def _meld_identity(u: Segment) -> str:
    # MELD's own clip id dia<D>_utt<U> (D = trailing number of ``dialogue``, U = ``turn``), so the
    # balanced subset does not depend on how a recipe spells its keys or dialogue ids.
    m = re.search(r"(\d+)$", u.dialogue or "")
    if m is not None and u.turn is not None:
        return f"dia{int(m.group(1))}_utt{u.turn}"
    return u.key


def meld4_test_keys(utterances: Sequence[Segment], *, balanced: bool = False, per_class: int = MELD4_PER_CLASS,
                    seed: int = MELD4_SEED) -> list[str]:
    """Keys of the MELD 4-class test set (neutral, happy/joy, angry/anger, sad/sadness).

    Parameters
    ----------
    utterances : sequence of Segment
        Any manifest; the MELD segments of the official test split are used.
    balanced : bool
        ``False``: every such test segment ("meld4-test-full"; 2,211 in the MELD release:
        neutral 1,256, joy 402, anger 345, sadness 208). ``True``: ``per_class`` per class
        ("meld4-test-balanced240" with the default 60).
    per_class, seed : int
        The balanced subset takes, for each class, the ``per_class`` segments with the smallest
        SHA-256 of ``f"{seed}:dia{Dialogue_ID}_utt{Utterance_ID}"`` (the key when the ids are
        missing; :func:`spokenemo.core.sampling.seeded_rank`): deterministic, independent of
        library versions and of manifest order.
    """
    meld_test = [u for u in utterances if corpus_key(u.corpus) == "meld" and normalize_split(u.split) == "test"]
    if not meld_test:
        raise ProtocolError("no MELD test utterances in the manifest (corpus 'meld', split 'test')",
                            hint="prepare MELD with `spokenemo prepare meld ROOT -o ...`")
    kept = apply_label_set(meld_test, "4class")
    if not balanced:
        return [u.key for u in kept]
    chosen: set[str] = set()
    for label in kept.label_set.names:
        members = [u for u in kept if u.label == label]
        if len(members) < per_class:
            raise ProtocolError(f"MELD test has {len(members)} {label!r} utterances, fewer than {per_class}")
        members.sort(key=lambda u: seeded_rank(_meld_identity(u), seed))
        chosen.update(u.key for u in members[:per_class])
    return [u.key for u in kept if u.key in chosen]


def meld4_protocol(utterances: Sequence[Segment], *, balanced: bool = False,
                   train_corpora: Sequence[str] = (), seed: int = MELD4_SEED,
                   per_class: int = MELD4_PER_CLASS) -> list[Fold]:
    """One fold testing on a MELD 4-class test set ("meld4-test-full" or "meld4-test-balanced240").

    With ``train_corpora`` (e.g. ``["iemocap"]``, the AECoTD out-of-domain protocol) the fold
    trains on those corpora (4-class labels, excited merged into happy) and is speaker-independent.
    Without, it trains on the MELD train split and validates on MELD dev: speaker-dependent, since
    MELD characters are in every split (``speaker_independent=False``).
    """
    test_keys = set(meld4_test_keys(utterances, balanced=balanced, per_class=per_class, seed=seed))
    test = [u for u in utterances if u.key in test_keys]
    name = f"meld4-test-balanced{per_class * 4}" if balanced else "meld4-test-full"
    info: dict[str, Any] = {"test_set": name, "seed": seed if balanced else None,
                            "per_class": per_class if balanced else None}
    if train_corpora:
        if "meld" in {corpus_key(c) for c in train_corpora}:
            raise ProtocolError("MELD cannot be a training corpus of a MELD-test protocol with --train-corpus",
                                hint="leave --train-corpus out to train on the MELD train split")
        train = list(apply_label_set(select_corpora(utterances, train_corpora, "train"), "4class"))
        speakers = speaker_ids(train + test)
        info["train_corpora"] = sorted({str(corpus_key(c)) for c in train_corpora})
        return [make_fold(name, train, test, protocol=name, speakers=speakers, label_set="4class", info=info)]
    meld = [u for u in utterances if corpus_key(u.corpus) == "meld"]
    train = list(apply_label_set([u for u in meld if normalize_split(u.split) == "train"], "4class"))
    valid = list(apply_label_set([u for u in meld if normalize_split(u.split) == "dev"], "4class"))
    log.warning("%s trained on the MELD train split: speakers are shared (speaker_independent=False)", name)
    info["train"] = "meld official train split"
    return [make_fold(name, train, test, valid, protocol=name, speakers=None, label_set="4class", info=info)]
