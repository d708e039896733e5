"""Evaluation folds: which segments train, validate and test, built deterministically.

One entry point, :func:`build_folds`, over the builders:

- :mod:`spokenemo.protocols.fold`: the :class:`Fold` and the checks every builder runs (no speaker
  and no conversation in two parts);
- :mod:`spokenemo.protocols.speaker_folds`: leave one session / speaker out, speaker k-fold,
  cross-corpus;
- :mod:`spokenemo.protocols.official_folds`: a corpus's official split, the MELD 4-class test sets;
- :mod:`spokenemo.protocols.dialogue_folds`: k groups of whole dialogues;
- :mod:`spokenemo.protocols.fold_io`: fold files and their index.

Every name of those modules that was public here before stays importable from this module.
"""

from __future__ import annotations

from collections.abc import Sequence

from spokenemo.core.errors import ProtocolError
from spokenemo.data.conversation import natural_key
from spokenemo.data.manifest import Segment
from spokenemo.protocols.dialogue_folds import dialogue_groups, dialogue_kfold
from spokenemo.protocols.fold import (
    PARTS,
    Fold,
    check_conversations,
    check_speaker_independence,
    dialogue_ids,
    speaker_ids,
    split_conversations,
)
from spokenemo.protocols.fold_io import INDEX, fold_counts, read_folds, read_folds_index, write_folds
from spokenemo.protocols.labels import apply_label_set, corpus_key, get_label_set
from spokenemo.protocols.official_folds import (
    MELD4_PER_CLASS,
    MELD4_SEED,
    SPEAKER_SHARING_SPLITS,
    meld4_protocol,
    meld4_test_keys,
    normalize_split,
    official_split,
)
from spokenemo.protocols.speaker_folds import (
    contiguous_groups,
    cross_corpus,
    leave_one_session_out,
    leave_one_speaker_out,
    speaker_kfold,
)

PROTOCOLS: tuple[str, ...] = ("loso-session", "loso-speaker", "speaker-kfold", "official", "cross-corpus",
                              "meld4-full", "meld4-balanced", "dialogue-kfold")


def _meld4(utterances: Sequence[Segment], protocol: str, *, label_set: str | None,
           train_corpora: Sequence[str], test_corpora: Sequence[str], seed: int) -> list[Fold]:
    if label_set not in (None, "4class"):
        raise ProtocolError(f"{protocol} is a 4-class protocol; label set {label_set!r} does not apply")
    if test_corpora and {corpus_key(c) for c in test_corpora} != {"meld"}:
        raise ProtocolError(f"{protocol} tests on MELD; --test-corpus {list(test_corpora)} does not apply")
    return meld4_protocol(utterances, balanced=protocol == "meld4-balanced", train_corpora=train_corpora, seed=seed)


def build_folds(utterances: Sequence[Segment], protocol: str, *, label_set: str | None = None,
                k: int = 5, groups: Sequence[Sequence[str]] | None = None, n_valid: int = 0,
                train_corpora: Sequence[str] = (), test_corpora: Sequence[str] = (),
                valid_corpora: Sequence[str] = (), test_by_speaker: bool = False,
                test_split: str = "test", seed: int = MELD4_SEED) -> list[Fold]:
    """Build the folds of a named protocol (see :data:`PROTOCOLS`) after applying a label set.

    ``label_set`` (a name for :func:`~spokenemo.protocols.labels.get_label_set`) filters the
    segments first; ``None`` keeps every label. The MELD protocols always use ``"4class"``.
    ``n_valid`` is the number of validation speakers (loso-speaker, speaker-kfold) or, for
    loso-session and dialogue-kfold, whether to validate on the next session / group
    (``n_valid > 0``). ``seed`` picks the MELD balanced subset and the dialogue-kfold order.
    """
    if protocol not in PROTOCOLS:
        raise ProtocolError(f"unknown protocol {protocol!r}", hint="protocols: " + ", ".join(PROTOCOLS))
    if protocol.startswith("meld4"):
        return _meld4(utterances, protocol, label_set=label_set, train_corpora=train_corpora,
                      test_corpora=test_corpora, seed=seed)
    utts: Sequence[Segment] = utterances
    if label_set is not None:
        utts = apply_label_set(utterances, label_set)
    name = get_label_set(label_set).name if label_set is not None else None
    if protocol == "loso-session":
        return leave_one_session_out(utts, valid_next=n_valid > 0, label_set=name)
    if protocol == "loso-speaker":
        return leave_one_speaker_out(utts, n_valid=n_valid, label_set=name)
    if protocol == "speaker-kfold":
        return speaker_kfold(utts, k=k, groups=groups, n_valid=n_valid, label_set=name)
    if protocol == "official":
        return official_split(utts, test_split=test_split, label_set=name)
    if protocol == "dialogue-kfold":
        return dialogue_kfold(utts, k=k, valid_next=n_valid > 0, seed=seed, label_set=name)
    return cross_corpus(utts, train_corpora, test_corpora, valid_corpora=valid_corpora,
                        test_by_speaker=test_by_speaker, label_set=name)


__all__ = [
    "INDEX", "MELD4_PER_CLASS", "MELD4_SEED", "PARTS", "PROTOCOLS", "SPEAKER_SHARING_SPLITS", "Fold",
    "build_folds", "check_conversations", "check_speaker_independence", "contiguous_groups", "cross_corpus",
    "dialogue_groups", "dialogue_ids", "dialogue_kfold", "fold_counts", "leave_one_session_out",
    "leave_one_speaker_out", "meld4_protocol", "meld4_test_keys", "natural_key", "normalize_split",
    "official_split", "read_folds", "read_folds_index", "speaker_ids", "speaker_kfold", "split_conversations",
    "write_folds",
]
