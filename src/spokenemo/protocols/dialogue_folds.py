"""Folds by conversation: k groups of whole dialogues (``dialogue-kfold``).

For corpora (and pseudo-conversation manifests) whose unit is the conversation and that have no
session or official split to lean on. Whole dialogues are dealt to ``k`` groups in a seeded order
(:func:`spokenemo.core.sampling.seeded_order` on ``"corpus/dialogue"``), so the folds depend on
the seed and the dialogue ids only. The folds are speaker-independent when the groups happen to
share no speaker; otherwise they say so (``speaker_independent=False``, with a warning), since
a speaker who is in many conversations cannot be kept on one side.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from spokenemo.core.errors import ProtocolError
from spokenemo.core.sampling import seeded_order
from spokenemo.data.conversation import dialogue_of
from spokenemo.data.manifest import Segment
from spokenemo.protocols.fold import (
    Fold,
    check_speaker_independence,
    label_set_name,
    make_fold,
    sorted_names,
    speaker_ids,
    split_in_order,
)

log = logging.getLogger(__name__)


def dialogue_groups(dialogues: Sequence[str], k: int, seed: int = 0) -> list[list[str]]:
    """``k`` groups of dialogue ids, sizes differing by at most 1, dealt in a seeded order."""
    order = seeded_order(sorted_names(dialogues), seed, key=lambda d: d)
    return [sorted_names(group) for group in split_in_order(order, k, "dialogue")]


def _speakers_kept_apart(utterances: Sequence[Segment], folds: Sequence[Fold]) -> bool:
    """Whether every fold keeps speakers apart (else a warning says why not)."""
    if any(not u.speaker for u in utterances):
        log.warning("dialogue-kfold: some utterances have no speaker; folds are not speaker-independent")
        return False
    speakers = speaker_ids(utterances)
    try:
        for fold in folds:
            check_speaker_independence(fold, speakers)
    except ProtocolError as err:
        log.warning("dialogue-kfold: speakers are shared between parts (speaker_independent=False): %s", err.message)
        return False
    return True


def dialogue_kfold(utterances: Sequence[Segment], *, k: int = 5, valid_next: bool = False, seed: int = 0,
                   label_set: str | None = None) -> list[Fold]:
    """k folds over whole dialogues: fold i tests group i (and validates on group i+1 with ``valid_next``).

    Parameters
    ----------
    utterances : sequence of Segment
        Every segment needs ``dialogue``.
    k : int
        Number of dialogue groups.
    valid_next : bool
        Validate on the next group (cyclically) instead of training on it.
    seed : int
        Seed of the order dialogues are dealt in.
    label_set : str, optional
        Name recorded in the folds.
    """
    missing = [u.key for u in utterances if u.dialogue is None]
    if missing:
        raise ProtocolError(f"{len(missing)} utterances have no dialogue (e.g. {missing[:3]})",
                            hint="dialogue-kfold needs the dialogue field (MELD, EmoryNLP, IEMOCAP, pseudo-conversations)")
    if valid_next and k < 3:
        raise ProtocolError(f"dialogue-kfold with validation needs k >= 3, got {k}")
    owner = {u.key: str(dialogue_of(u)) for u in utterances}
    groups = dialogue_groups(list(owner.values()), k, seed)
    lset = label_set_name(utterances, label_set)
    folds = []
    for i, group in enumerate(groups):
        test_set = set(group)
        valid_set = set(groups[(i + 1) % len(groups)]) if valid_next else set()
        test = [u for u in utterances if owner[u.key] in test_set]
        valid = [u for u in utterances if owner[u.key] in valid_set]
        train = [u for u in utterances if owner[u.key] not in test_set | valid_set]
        folds.append(make_fold(f"fold{i + 1}", train, test, valid, protocol="dialogue-kfold", speakers=None,
                               label_set=lset, info={"seed": seed, "test_dialogues": len(test_set),
                                                     "valid_dialogues": len(valid_set)}))
    if _speakers_kept_apart(utterances, folds):
        folds = [replace(f, speaker_independent=True) for f in folds]
    return folds
