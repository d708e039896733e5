"""Evaluation folds: which utterances train, validate and test, built deterministically.

Every builder takes a list of :class:`~spokenemo.data.manifest.Utterance` and returns a list of
:class:`Fold`. The rule of the project is that no speaker is in both the training and the test part
of a fold: builders check it and raise :class:`~spokenemo.core.errors.ProtocolError` naming the speakers.
The one protocol that cannot honour it is the official MELD/EmoryNLP split (its speakers are TV
characters who appear in every split); there the fold says so itself with
``speaker_independent=False``, which is written into the fold files and printed by the CLI.

Speakers are identified by their ``speaker`` field when the utterances come from one corpus and by
``"corpus/speaker"`` when they come from several (speaker ``"01"`` of two corpora is two people).
Sorting is "natural" (``"2"`` before ``"10"``) so folds do not depend on how ids are padded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from spokenemo.core.errors import LabelError, ProtocolError
from spokenemo.core.fileio import atomic_write
from spokenemo.data.manifest import Utterance
from spokenemo.protocols.labels import LabelledUtterances, apply_label_set, corpus_key, get_label_set

log = logging.getLogger(__name__)

PARTS: tuple[str, ...] = ("train", "valid", "test")

#: Corpora whose official split puts the same speakers in train and test (TV-series characters).
SPEAKER_SHARING_SPLITS: frozenset[str] = frozenset({"meld", "emorynlp"})

_SPLIT_ALIASES = {"train": "train", "training": "train", "dev": "dev", "valid": "dev",
                  "validation": "dev", "val": "dev", "development": "dev", "test": "test",
                  "testing": "test"}

#: Seed of the balanced MELD 4-class test subset (see :func:`meld4_test_keys`).
MELD4_SEED = 0
MELD4_PER_CLASS = 60


@dataclass(frozen=True)
class Fold:
    """One train/valid/test partition of a manifest, by utterance key.

    Parameters
    ----------
    name : str
        Unique within its protocol (``"session-Ses01"``, ``"fold1"``, ``"official"``).
    train, test, valid : tuple of str
        Utterance keys of each part (``valid`` may be empty).
    protocol : str
        Name of the protocol that built it (``"speaker-kfold"``, ...).
    speaker_independent : bool
        Whether the fold guarantees that no speaker is in two parts.
    label_set : str, optional
        Name of the label set the keys were filtered with.
    info : mapping
        Extra description (test speakers, seed, source corpora, ...), JSON-serialisable.
    """

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    valid: tuple[str, ...] = ()
    protocol: str = ""
    speaker_independent: bool = True
    label_set: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in PARTS:
            object.__setattr__(self, part, tuple(getattr(self, part)))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))
        seen: dict[str, str] = {}
        for part in PARTS:
            for key in getattr(self, part):
                if key in seen:
                    raise ProtocolError(f"fold {self.name!r}: utterance {key!r} is in both {seen[key]} and {part}")
                seen[key] = part

    def __hash__(self) -> int:
        return hash((self.name, self.protocol, self.train, self.valid, self.test))

    def part(self, name: str) -> tuple[str, ...]:
        """Keys of ``"train"``, ``"valid"`` or ``"test"``."""
        if name not in PARTS:
            raise ProtocolError(f"unknown fold part {name!r}", hint="parts are train, valid, test")
        return getattr(self, name)

    def select(self, utterances: Iterable[Utterance], part: str) -> list[Utterance]:
        """The utterances of one part, in the fold's key order.

        Raises :class:`ProtocolError` when keys of the fold are missing from ``utterances`` (the
        folds were built from another manifest).
        """
        keys = self.part(part)
        by_key = {u.key: u for u in utterances}
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise ProtocolError(
                f"fold {self.name!r}: {len(missing)} {part} keys are not in the manifest (e.g. {missing[:3]})",
                hint="build the folds from this manifest with `spokenemo folds`")
        return [by_key[k] for k in keys]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "protocol": self.protocol, "label_set": self.label_set,
                "speaker_independent": self.speaker_independent, "info": dict(self.info),
                "train": list(self.train), "valid": list(self.valid), "test": list(self.test)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], source: str = "<fold>") -> Fold:
        try:
            return cls(name=obj["name"], train=obj["train"], test=obj["test"], valid=obj.get("valid", ()),
                       protocol=obj.get("protocol", ""), speaker_independent=bool(obj.get("speaker_independent", True)),
                       label_set=obj.get("label_set"), info=obj.get("info", {}))
        except (KeyError, TypeError) as err:
            raise ProtocolError(f"{source}: not a fold file ({err!s} missing or malformed)",
                                hint="rewrite the folds with `spokenemo folds`") from None


# --- helpers ---------------------------------------------------------------------------------
def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``"Actor_2"`` < ``"Actor_10"``)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p)


def speaker_ids(utterances: Sequence[Utterance]) -> dict[str, str]:
    """Key -> speaker identity: ``speaker``, qualified as ``corpus/speaker`` if corpora are mixed.

    Raises :class:`ProtocolError` when an utterance has no speaker (independence cannot be checked).
    """
    missing = [u.key for u in utterances if not u.speaker]
    if missing:
        raise ProtocolError(f"{len(missing)} utterances have no speaker (e.g. {missing[:3]}); "
                            "a speaker-independent protocol needs one for every utterance",
                            hint="fix the corpus recipe, or use the official split of a corpus that has one")
    corpora = {corpus_key(u.corpus) for u in utterances}
    qualify = len(corpora) > 1
    return {u.key: f"{u.corpus}/{u.speaker}" if qualify else str(u.speaker) for u in utterances}


def _sorted(items: Iterable[str]) -> list[str]:
    return sorted(set(items), key=natural_key)


def _fmt(names: Iterable[str], limit: int = 8) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_speaker_independence(fold: Fold, speakers: Mapping[str, str]) -> None:
    """Raise :class:`ProtocolError` naming the speakers found in two parts of ``fold``.

    Keys missing from ``speakers`` (utterances of unknown speaker) are not checked.
    """
    parts = {p: {speakers[k] for k in fold.part(p) if k in speakers} for p in PARTS}
    for a, b in (("train", "test"), ("valid", "test"), ("train", "valid")):
        shared = parts[a] & parts[b]
        if shared:
            raise ProtocolError(
                f"fold {fold.name!r} ({fold.protocol}): speakers in both {a} and {b}: {_fmt(_sorted(shared))}",
                hint="choose speaker groups that do not overlap; a corpus whose official split shares "
                     "speakers must be declared speaker_independent=False")


def _make_fold(name: str, train: Sequence[Utterance], test: Sequence[Utterance], valid: Sequence[Utterance] = (),
               *, protocol: str, speakers: Mapping[str, str] | None, label_set: str | None = None,
               info: Mapping[str, Any] | None = None) -> Fold:
    """Build a fold; check it is non-empty and, when ``speakers`` is given, speaker-independent."""
    if not test:
        raise ProtocolError(f"fold {name!r} ({protocol}) has no test utterances")
    if not train:
        raise ProtocolError(f"fold {name!r} ({protocol}) has no training utterances")
    fold = Fold(name=name, train=tuple(u.key for u in train), test=tuple(u.key for u in test),
                valid=tuple(u.key for u in valid), protocol=protocol, speaker_independent=speakers is not None,
                label_set=label_set, info=dict(info or {}))
    if speakers is not None:
        check_speaker_independence(fold, speakers)
    return fold


def _label_set_name(utterances: Sequence[Utterance], label_set: str | None) -> str | None:
    if label_set is None and isinstance(utterances, LabelledUtterances):
        return utterances.label_set.name
    return label_set


# --- builders --------------------------------------------------------------------------------
def leave_one_session_out(utterances: Sequence[Utterance], *, valid_next: bool = False,
                          label_set: str | None = None) -> list[Fold]:
    """One fold per ``session`` (IEMOCAP: 5 folds), tested on that session, trained on the others.

    Parameters
    ----------
    utterances : sequence of Utterance
        Every utterance needs ``session`` and ``speaker``.
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
    sessions = _sorted(str(u.session) for u in utterances)
    if len(sessions) < 2 + valid_next:
        raise ProtocolError(f"leave-one-session-out needs at least {2 + valid_next} sessions, found {sessions}")
    lset = _label_set_name(utterances, label_set)
    folds = []
    for i, sess in enumerate(sessions):
        val_sess = sessions[(i + 1) % len(sessions)] if valid_next else None
        test = [u for u in utterances if u.session == sess]
        valid = [u for u in utterances if val_sess is not None and u.session == val_sess]
        train = [u for u in utterances if u.session not in (sess, val_sess)]
        folds.append(_make_fold(f"session-{sess}", train, test, valid, protocol="loso-session", speakers=speakers,
                                label_set=lset, info={"test_session": sess, "valid_session": val_sess}))
    return folds


def leave_one_speaker_out(utterances: Sequence[Utterance], *, n_valid: int = 0,
                          label_set: str | None = None) -> list[Fold]:
    """One fold per speaker; the next ``n_valid`` speakers (cyclically, natural order) validate."""
    speakers = speaker_ids(utterances)
    order = _sorted(speakers.values())
    if len(order) < 2 + n_valid:
        raise ProtocolError(f"leave-one-speaker-out with {n_valid} validation speakers needs at least "
                            f"{2 + n_valid} speakers, found {len(order)}: {_fmt(order)}")
    lset = _label_set_name(utterances, label_set)
    folds = []
    for i, spk in enumerate(order):
        val = [order[(i + j) % len(order)] for j in range(1, n_valid + 1)]
        folds.append(_split_by_speakers(f"speaker-{spk}", utterances, speakers, [spk], val,
                                        protocol="loso-speaker", label_set=lset))
    return folds


def _split_by_speakers(name: str, utterances: Sequence[Utterance], speakers: Mapping[str, str],
                       test_spk: Sequence[str], valid_spk: Sequence[str], *, protocol: str,
                       label_set: str | None) -> Fold:
    test_set, valid_set = set(test_spk), set(valid_spk)
    test = [u for u in utterances if speakers[u.key] in test_set]
    valid = [u for u in utterances if speakers[u.key] in valid_set]
    train = [u for u in utterances if speakers[u.key] not in test_set | valid_set]
    return _make_fold(name, train, test, valid, protocol=protocol, speakers=speakers, label_set=label_set,
                      info={"test_speakers": list(test_spk), "valid_speakers": list(valid_spk)})


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
            if name in known:
                ident = name
            elif len(bare.get(name, [])) == 1:
                ident = bare[name][0]
            elif name in bare:
                raise ProtocolError(f"speaker {name!r} is ambiguous: {bare[name]}", hint="write it as corpus/speaker")
            else:
                raise ProtocolError(f"speaker {name!r} of group {gi + 1} is not in the manifest",
                                    hint=f"speakers: {_fmt(known, 30)}")
            if ident in placed:
                raise ProtocolError(f"speaker {name!r} is in groups {placed[ident] + 1} and {gi + 1}")
            placed[ident] = gi
            resolved.append(ident)
        if not resolved:
            raise ProtocolError(f"speaker group {gi + 1} is empty")
        out.append(resolved)
    left = [s for s in known if s not in placed]
    if left:
        raise ProtocolError(f"speakers in no group: {_fmt(left)}",
                            hint="every speaker must be in exactly one group (or leave --groups out)")
    return out


def contiguous_groups(speakers: Sequence[str], k: int) -> list[list[str]]:
    """Split naturally sorted speakers into ``k`` contiguous groups whose sizes differ by at most 1.

    The first ``len(speakers) % k`` groups get the extra speaker (20 RAVDESS actors, k=5:
    01-04, 05-08, ..., 17-20).
    """
    order = _sorted(speakers)
    if k < 2:
        raise ProtocolError(f"k must be at least 2, got {k}")
    if k > len(order):
        raise ProtocolError(f"cannot make {k} speaker groups from {len(order)} speakers", hint="lower --k")
    size, extra = divmod(len(order), k)
    groups, start = [], 0
    for i in range(k):
        end = start + size + (1 if i < extra else 0)
        groups.append(order[start:end])
        start = end
    return groups


def speaker_kfold(utterances: Sequence[Utterance], *, k: int = 5, groups: Sequence[Sequence[str]] | None = None,
                  n_valid: int = 0, label_set: str | None = None) -> list[Fold]:
    """k folds over speaker groups: fold i tests group i, validates on speakers of group i+1.

    Parameters
    ----------
    utterances : sequence of Utterance
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
    known = _sorted(speakers.values())
    grouping = _resolve_groups(groups, known) if groups is not None else contiguous_groups(known, k)
    if len(grouping) < 2:
        raise ProtocolError("speaker k-fold needs at least 2 groups")
    lset = _label_set_name(utterances, label_set)
    folds = []
    for i, group in enumerate(grouping):
        nxt = grouping[(i + 1) % len(grouping)]
        if n_valid > len(nxt):
            raise ProtocolError(f"fold{i + 1}: {n_valid} validation speakers asked, the next group has {len(nxt)}")
        folds.append(_split_by_speakers(f"fold{i + 1}", utterances, speakers, group, nxt[:n_valid],
                                        protocol="speaker-kfold", label_set=lset))
    return folds


def normalize_split(split: str | None) -> str | None:
    """``"validation"``/``"valid"``/``"val"`` -> ``"dev"``; ``None`` stays ``None``."""
    if split is None:
        return None
    try:
        return _SPLIT_ALIASES[split.strip().casefold()]
    except KeyError:
        raise ProtocolError(f"unknown split name {split!r}", hint="use train, dev (valid) or test") from None


def official_split(utterances: Sequence[Utterance], *, speaker_independent: bool | None = None,
                   test_split: str = "test", label_set: str | None = None) -> list[Fold]:
    """The corpus's own train/dev/test split (``split`` field) as one fold named ``"official"``.

    Parameters
    ----------
    speaker_independent : bool, optional
        ``True`` checks that no speaker is in two parts (and raises if one is). ``False`` declares
        the fold speaker-dependent and skips the check. ``None`` (default) infers it: ``False``
        when every utterance comes from a corpus in :data:`SPEAKER_SHARING_SPLITS` (MELD,
        EmoryNLP: TV characters are in every split), ``True`` otherwise.
    test_split : str
        The split that tests (MSP-Podcast has ``test1``, ``test2``, ...). Utterances of other
        splits than train, dev and this one are left out, with a warning that counts them.
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
    test_name = _split_name(test_split)
    parts: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
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
    corpora_here = _sorted(str(u.corpus) for u in used if u.corpus)
    return [_make_fold("official", parts["train"], parts["test"], parts["dev"], protocol="official",
                       speakers=speakers, label_set=_label_set_name(utterances, label_set),
                       info={"corpora": corpora_here, "test_split": test_split,
                             "left_out": dict(sorted(unused.items()))})]


def _split_name(split: str) -> str:
    text = split.strip().casefold()
    return _SPLIT_ALIASES.get(text, text)


def _select_corpora(utterances: Sequence[Utterance], names: Sequence[str], role: str) -> list[Utterance]:
    wanted = {corpus_key(n) for n in names}
    present = {corpus_key(u.corpus) for u in utterances}
    absent = sorted(w for w in wanted if w not in present)
    if absent:
        raise ProtocolError(f"{role} corpus {absent} not in the manifest",
                            hint="corpora present: " + ", ".join(sorted(str(p) for p in present)))
    return [u for u in utterances if corpus_key(u.corpus) in wanted]


def cross_corpus(utterances: Sequence[Utterance], train_corpora: Sequence[str], test_corpora: Sequence[str], *,
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
    train = _select_corpora(utterances, train_corpora, "train")
    valid = _select_corpora(utterances, valid_corpora, "valid") if valid_corpora else []
    test = _select_corpora(utterances, test_corpora, "test")
    used = train + valid + test
    speakers = speaker_ids(used)
    base = "+".join(sorted(keys["train"])) + "->" + "+".join(sorted(keys["test"]))
    lset = _label_set_name(utterances, label_set)
    info = {"train_corpora": sorted(keys["train"]), "valid_corpora": sorted(keys["valid"]),
            "test_corpora": sorted(keys["test"])}
    if not test_by_speaker:
        return [_make_fold(base, train, test, valid, protocol="cross-corpus", speakers=speakers,
                           label_set=lset, info=info)]
    folds = []
    for spk in _sorted(speakers[u.key] for u in test):
        part = [u for u in test if speakers[u.key] == spk]
        folds.append(_make_fold(f"{base}:{spk}", train, part, valid, protocol="cross-corpus", speakers=speakers,
                                label_set=lset, info={**info, "test_speakers": [spk]}))
    return folds


# --- MELD 4-class test sets ------------------------------------------------------------------
def _meld_identity(u: Utterance) -> str:
    # MELD's own clip id dia<D>_utt<U> (D = trailing number of ``dialogue``, U = ``turn``), so the
    # balanced subset does not depend on how a recipe spells its keys or dialogue ids.
    m = re.search(r"(\d+)$", u.dialogue or "")
    if m is not None and u.turn is not None:
        return f"dia{int(m.group(1))}_utt{u.turn}"
    return u.key


def _selection_rank(seed: int, identity: str) -> str:
    return hashlib.sha256(f"{seed}:{identity}".encode()).hexdigest()


def meld4_test_keys(utterances: Sequence[Utterance], *, balanced: bool = False, per_class: int = MELD4_PER_CLASS,
                    seed: int = MELD4_SEED) -> list[str]:
    """Keys of the MELD 4-class test set (neutral, happy/joy, angry/anger, sad/sadness).

    Parameters
    ----------
    utterances : sequence of Utterance
        Any manifest; the MELD utterances of the official test split are used.
    balanced : bool
        ``False``: every such test utterance ("meld4-test-full"; 2,211 in the MELD release:
        neutral 1,256, joy 402, anger 345, sadness 208). ``True``: ``per_class`` per class
        ("meld4-test-balanced240" with the default 60).
    per_class, seed : int
        The balanced subset takes, for each class, the ``per_class`` utterances with the smallest
        SHA-256 of ``f"{seed}:dia{Dialogue_ID}_utt{Utterance_ID}"`` (the key when the ids are
        missing): deterministic, independent of library versions and of manifest order.
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
        members.sort(key=lambda u: _selection_rank(seed, _meld_identity(u)))
        chosen.update(u.key for u in members[:per_class])
    return [u.key for u in kept if u.key in chosen]


def meld4_protocol(utterances: Sequence[Utterance], *, balanced: bool = False,
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
        train = list(apply_label_set(_select_corpora(utterances, train_corpora, "train"), "4class"))
        speakers = speaker_ids(train + test)
        info["train_corpora"] = sorted({str(corpus_key(c)) for c in train_corpora})
        return [_make_fold(name, train, test, protocol=name, speakers=speakers, label_set="4class", info=info)]
    meld = [u for u in utterances if corpus_key(u.corpus) == "meld"]
    train = list(apply_label_set([u for u in meld if normalize_split(u.split) == "train"], "4class"))
    valid = list(apply_label_set([u for u in meld if normalize_split(u.split) == "dev"], "4class"))
    log.warning("%s trained on the MELD train split: speakers are shared (speaker_independent=False)", name)
    info["train"] = "meld official train split"
    return [_make_fold(name, train, test, valid, protocol=name, speakers=None, label_set="4class", info=info)]


# --- one entry point for the CLI ---------------------------------------------------------------
PROTOCOLS: tuple[str, ...] = ("loso-session", "loso-speaker", "speaker-kfold", "official", "cross-corpus",
                              "meld4-full", "meld4-balanced")


def build_folds(utterances: Sequence[Utterance], protocol: str, *, label_set: str | None = None,
                k: int = 5, groups: Sequence[Sequence[str]] | None = None, n_valid: int = 0,
                train_corpora: Sequence[str] = (), test_corpora: Sequence[str] = (),
                valid_corpora: Sequence[str] = (), test_by_speaker: bool = False,
                test_split: str = "test", seed: int = MELD4_SEED) -> list[Fold]:
    """Build the folds of a named protocol (see :data:`PROTOCOLS`) after applying a label set.

    ``label_set`` (a name for :func:`~spokenemo.protocols.labels.get_label_set`) filters the
    utterances first; ``None`` keeps every label. The MELD protocols always use ``"4class"``.
    ``n_valid`` is the number of validation speakers (loso-speaker, speaker-kfold) or, for
    loso-session, whether to validate on the next session (``n_valid > 0``).
    """
    if protocol not in PROTOCOLS:
        raise ProtocolError(f"unknown protocol {protocol!r}", hint="protocols: " + ", ".join(PROTOCOLS))
    if protocol.startswith("meld4"):
        if label_set not in (None, "4class"):
            raise ProtocolError(f"{protocol} is a 4-class protocol; label set {label_set!r} does not apply")
        if test_corpora and {corpus_key(c) for c in test_corpora} != {"meld"}:
            raise ProtocolError(f"{protocol} tests on MELD; --test-corpus {list(test_corpora)} does not apply")
        return meld4_protocol(utterances, balanced=protocol == "meld4-balanced", train_corpora=train_corpora,
                              seed=seed)
    utts: Sequence[Utterance] = utterances
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
    return cross_corpus(utts, train_corpora, test_corpora, valid_corpora=valid_corpora,
                        test_by_speaker=test_by_speaker, label_set=name)


# --- files -----------------------------------------------------------------------------------
INDEX = "index.json"


def _fold_file(name: str) -> str:
    # "ravdess->nemo:nemo/EB0" -> "ravdess_to_nemo_nemo_EB0.json"
    return re.sub(r"[^0-9A-Za-z.+-]+", "_", name.replace("->", "_to_")).strip("._") + ".json"


def fold_counts(fold: Fold, utterances: Iterable[Utterance], labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Per part: utterance count, speaker count and utterances per class (in ``labels`` order)."""
    by_key = {u.key: u for u in utterances}
    out: dict[str, Any] = {}
    for part in PARTS:
        utts = fold.select(by_key.values(), part)
        classes = Counter(u.label for u in utts)
        order = list(labels) if labels is not None else _sorted(str(c) for c in classes)
        out[part] = {"n": len(utts), "speakers": len({(u.corpus, u.speaker) for u in utts if u.speaker}),
                     "classes": {c: classes.get(c, 0) for c in order}}
    return out


def write_folds(folds: Sequence[Fold], out_dir: str | Path, utterances: Sequence[Utterance]) -> Path:
    """Write one JSON file per fold and ``index.json`` into ``out_dir``, each atomically.

    The index (written last) names the protocol, label set, speaker independence and, per fold,
    its file and the counts of :func:`fold_counts`. Fold files of a previous index that the new one
    does not list are removed. Returns the index path.
    """
    if not folds:
        raise ProtocolError("no folds to write")
    protocols = {f.protocol for f in folds}
    if len(protocols) != 1:
        raise ProtocolError(f"folds of several protocols cannot share a folder: {sorted(protocols)}")
    files = [_fold_file(f.name) for f in folds]
    if len(set(files)) != len(files):
        raise ProtocolError("fold names collide as file names: " + ", ".join(f.name for f in folds))
    out_dir = Path(out_dir)
    old = _read_index(out_dir) if (out_dir / INDEX).exists() else None
    lset_names = {f.label_set for f in folds}
    lset = lset_names.pop() if len(lset_names) == 1 else None
    labels = _sorted(str(u.label) for u in utterances)
    if lset is not None:
        # a set name this version does not know falls back to the labels present
        with contextlib.suppress(LabelError):
            labels = list(get_label_set(lset).names)
    entries = []
    for fold, fname in zip(folds, files, strict=True):
        counts = fold_counts(fold, utterances, labels)
        with atomic_write(out_dir / fname) as fh:
            json.dump({**fold.to_json(), "counts": counts}, fh, ensure_ascii=False, indent=1)
            fh.write("\n")
        entries.append({"name": fold.name, "file": fname, "counts": counts})
    index = {"protocol": folds[0].protocol, "label_set": lset, "labels": labels,
             "speaker_independent": all(f.speaker_independent for f in folds), "n_folds": len(folds),
             "folds": entries}
    with atomic_write(out_dir / INDEX) as fh:
        json.dump(index, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    if old is not None:
        for entry in old.get("folds", []):
            stale = out_dir / str(entry.get("file", ""))
            if entry.get("file") and entry["file"] not in files and stale.is_file():
                stale.unlink()
    return out_dir / INDEX


def _read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    if not path.is_file():
        raise ProtocolError(f"{path}: fold index not found", hint="write folds with `spokenemo folds MANIFEST -o DIR`")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ProtocolError(f"{path}: not valid JSON ({err.msg})", hint="rewrite the folds with `spokenemo folds`") from None
    if not isinstance(index, dict) or not isinstance(index.get("folds"), list):
        raise ProtocolError(f"{path}: not a fold index", hint="rewrite the folds with `spokenemo folds`")
    return index


def read_folds_index(folder: str | Path) -> dict[str, Any]:
    """The ``index.json`` of a folds folder (protocol, label set, counts)."""
    return _read_index(Path(folder))


def read_folds(folder: str | Path) -> list[Fold]:
    """Read the folds listed in ``folder/index.json``, in index order."""
    folder = Path(folder)
    folds = []
    for entry in _read_index(folder)["folds"]:
        path = folder / str(entry.get("file"))
        if not path.is_file():
            raise ProtocolError(f"{path}: fold file listed in {INDEX} is missing",
                                hint="rewrite the folds with `spokenemo folds`")
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ProtocolError(f"{path}: not valid JSON ({err.msg})") from None
        folds.append(Fold.from_json(obj, source=str(path)))
    return folds
