"""Fold builders by speaker groups: leave one session / speaker out, speaker k-fold, cross-corpus.

Every builder takes a list of :class:`~spokenemo.data.manifest.Segment` and returns a list of
:class:`~spokenemo.protocols.fold.Fold`, checked speaker-independent and conversation-whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spokenemo.core.errors import ProtocolError
from spokenemo.data.manifest import Segment
from spokenemo.protocols.fold import (
    Fold,
    fmt_names,
    label_set_name,
    make_fold,
    select_corpora,
    sorted_names,
    speaker_ids,
    split_in_order,
)
from spokenemo.protocols.labels import corpus_key


def leave_one_session_out(utterances: Sequence[Segment], *, valid_next: bool = False,
                          label_set: str | None = None) -> list[Fold]:
    """One fold per ``session`` (IEMOCAP: 5 folds), tested on that session, trained on the others.

    Parameters
    ----------
    utterances : sequence of Segment
        Every segment needs ``session`` and ``speaker``.
    valid_next : bool
        Validate on the next session (cyclically) instead of training on it.
    label_set : str, optional
        Name recorded in the folds (taken from ``utterances`` when it came from
        :func:`~spokenemo.protocols.labels.apply_label_set`).
    """
    missing = [u.key for u in utterances if not u.session]
    if missing:
        raise ProtocolError(f"{len(missing)} utterances have no session (e.g. {missing[:3]})",
                            hint="leave-one-session-out needs the session field (IEMOCAP); use loso-speaker or speaker-kfold")
    speakers = speaker_ids(utterances)
    sessions = sorted_names(str(u.session) for u in utterances)
    if len(sessions) < 2 + valid_next:
        raise ProtocolError(f"leave-one-session-out needs at least {2 + valid_next} sessions, found {sessions}")
    lset = label_set_name(utterances, label_set)
    folds = []
    for i, sess in enumerate(sessions):
        val_sess = sessions[(i + 1) % len(sessions)] if valid_next else None
        test = [u for u in utterances if u.session == sess]
        valid = [u for u in utterances if val_sess is not None and u.session == val_sess]
        train = [u for u in utterances if u.session not in (sess, val_sess)]
        folds.append(make_fold(f"session-{sess}", train, test, valid, protocol="loso-session", speakers=speakers,
                               label_set=lset, info={"test_session": sess, "valid_session": val_sess}))
    return folds


def leave_one_speaker_out(utterances: Sequence[Segment], *, n_valid: int = 0,
                          label_set: str | None = None) -> list[Fold]:
    """One fold per speaker; the next ``n_valid`` speakers (cyclically, natural order) validate."""
    speakers = speaker_ids(utterances)
    order = sorted_names(speakers.values())
    if len(order) < 2 + n_valid:
        raise ProtocolError(f"leave-one-speaker-out with {n_valid} validation speakers needs at least "
                            f"{2 + n_valid} speakers, found {len(order)}: {fmt_names(order)}")
    lset = label_set_name(utterances, label_set)
    folds = []
    for i, spk in enumerate(order):
        val = [order[(i + j) % len(order)] for j in range(1, n_valid + 1)]
        folds.append(_split_by_speakers(f"speaker-{spk}", utterances, speakers, [spk], val,
                                        protocol="loso-speaker", label_set=lset))
    return folds


def _split_by_speakers(name: str, utterances: Sequence[Segment], speakers: Mapping[str, str],
                       test_spk: Sequence[str], valid_spk: Sequence[str], *, protocol: str,
                       label_set: str | None) -> Fold:
    test_set, valid_set = set(test_spk), set(valid_spk)
    test = [u for u in utterances if speakers[u.key] in test_set]
    valid = [u for u in utterances if speakers[u.key] in valid_set]
    train = [u for u in utterances if speakers[u.key] not in test_set | valid_set]
    return make_fold(name, train, test, valid, protocol=protocol, speakers=speakers, label_set=label_set,
                     info={"test_speakers": list(test_spk), "valid_speakers": list(valid_spk)})


def _resolve_name(name: str, known: Sequence[str], bare: Mapping[str, list[str]], group: int) -> str:
    """A user-given speaker name (bare or ``corpus/speaker``) -> its identity."""
    if name in known:
        return name
    if len(bare.get(name, [])) == 1:
        return bare[name][0]
    if name in bare:
        raise ProtocolError(f"speaker {name!r} is ambiguous: {bare[name]}", hint="write it as corpus/speaker")
    raise ProtocolError(f"speaker {name!r} of group {group + 1} is not in the manifest",
                        hint=f"speakers: {fmt_names(known, 30)}")


def _resolve_groups(groups: Sequence[Sequence[str]], known: Sequence[str]) -> list[list[str]]:
    """Map user-given speaker names (bare or ``corpus/speaker``) onto identities; check coverage."""
    bare: dict[str, list[str]] = {}
    for ident in known:
        bare.setdefault(ident.split("/", 1)[-1], []).append(ident)
    out: list[list[str]] = []
    placed: dict[str, int] = {}
    for gi, group in enumerate(groups):
        resolved = []
        for name in group:
            name = str(name).strip()
            ident = _resolve_name(name, known, bare, gi)
            if ident in placed:
                raise ProtocolError(f"speaker {name!r} is in groups {placed[ident] + 1} and {gi + 1}")
            placed[ident] = gi
            resolved.append(ident)
        if not resolved:
            raise ProtocolError(f"speaker group {gi + 1} is empty")
        out.append(resolved)
    left = [s for s in known if s not in placed]
    if left:
        raise ProtocolError(f"speakers in no group: {fmt_names(left)}",
                            hint="every speaker must be in exactly one group (or leave --groups out)")
    return out


def contiguous_groups(speakers: Sequence[str], k: int) -> list[list[str]]:
    """Split naturally sorted speakers into ``k`` contiguous groups whose sizes differ by at most 1.

    The first ``len(speakers) % k`` groups get the extra speaker (20 RAVDESS actors, k=5:
    01-04, 05-08, ..., 17-20).
    """
    return split_in_order(sorted_names(speakers), k, "speaker")


def speaker_kfold(utterances: Sequence[Segment], *, k: int = 5, groups: Sequence[Sequence[str]] | None = None,
                  n_valid: int = 0, label_set: str | None = None) -> list[Fold]:
    """k folds over speaker groups: fold i tests group i, validates on speakers of group i+1.

    Parameters
    ----------
    utterances : sequence of Segment
    k : int
        Number of groups when ``groups`` is not given (see :func:`contiguous_groups`).
    groups : sequence of sequences of str, optional
        Explicit speaker groups (every speaker in exactly one), e.g. RAVDESS
        ``[["01".."04"], ["05".."08"], ...]``; overrides ``k``.
    n_valid : int
        Validation speakers per fold: the first ``n_valid`` speakers of the next group (cyclically),
        which for RAVDESS (odd actors male, even female) gives one man and one woman.
    label_set : str, optional
        Name recorded in the folds.

    Returns
    -------
    list of Fold
        Named ``fold1`` ... ``foldk``; ``info`` lists the test and validation speakers.
    """
    speakers = speaker_ids(utterances)
    known = sorted_names(speakers.values())
    grouping = _resolve_groups(groups, known) if groups is not None else contiguous_groups(known, k)
    if len(grouping) < 2:
        raise ProtocolError("speaker k-fold needs at least 2 groups")
    lset = label_set_name(utterances, label_set)
    folds = []
    for i, group in enumerate(grouping):
        nxt = grouping[(i + 1) % len(grouping)]
        if n_valid > len(nxt):
            raise ProtocolError(f"fold{i + 1}: {n_valid} validation speakers asked, the next group has {len(nxt)}")
        folds.append(_split_by_speakers(f"fold{i + 1}", utterances, speakers, group, nxt[:n_valid],
                                        protocol="speaker-kfold", label_set=lset))
    return folds


def cross_corpus(utterances: Sequence[Segment], train_corpora: Sequence[str], test_corpora: Sequence[str], *,
                 valid_corpora: Sequence[str] = (), test_by_speaker: bool = False,
                 label_set: str | None = None) -> list[Fold]:
    """Train on some corpora, test on others.

    Parameters
    ----------
    train_corpora, test_corpora, valid_corpora : sequences of str
        Corpus names (matched case- and punctuation-insensitively); they must not overlap.
    test_by_speaker : bool
        One fold per test speaker (e.g. RAVDESS + Korean -> nEMO, leave one nEMO speaker out)
        instead of one fold with the whole test corpora.
    """
    if not train_corpora or not test_corpora:
        raise ProtocolError("cross-corpus needs train and test corpora", hint="pass --train-corpus and --test-corpus")
    roles = {"train": train_corpora, "valid": valid_corpora, "test": test_corpora}
    keys = {r: {corpus_key(c) for c in cs} for r, cs in roles.items()}
    for a, b in (("train", "test"), ("valid", "test"), ("train", "valid")):
        if keys[a] & keys[b]:
            raise ProtocolError(f"corpus {sorted(keys[a] & keys[b])} is both a {a} and a {b} corpus")
    train = select_corpora(utterances, train_corpora, "train")
    valid = select_corpora(utterances, valid_corpora, "valid") if valid_corpora else []
    test = select_corpora(utterances, test_corpora, "test")
    speakers = speaker_ids(train + valid + test)
    base = "+".join(sorted(keys["train"])) + "->" + "+".join(sorted(keys["test"]))
    lset = label_set_name(utterances, label_set)
    info = {"train_corpora": sorted(keys["train"]), "valid_corpora": sorted(keys["valid"]),
            "test_corpora": sorted(keys["test"])}
    if not test_by_speaker:
        return [make_fold(base, train, test, valid, protocol="cross-corpus", speakers=speakers,
                          label_set=lset, info=info)]
    folds = []
    for spk in sorted_names(speakers[u.key] for u in test):
        part = [u for u in test if speakers[u.key] == spk]
        folds.append(make_fold(f"{base}:{spk}", train, part, valid, protocol="cross-corpus", speakers=speakers,
                               label_set=lset, info={**info, "test_speakers": [spk]}))
    return folds
