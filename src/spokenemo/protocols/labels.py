"""Emotion label names: one canonical vocabulary, the corpora's own spellings, and label sets.

Three layers, each a plain lookup:

1. :data:`CANONICAL` -- the names every manifest's ``label`` field uses (``"happy"``, not
   ``"joy"``/``"hap"``/``"H"``).
2. Raw labels -> canonical: :func:`normalize_label` maps a corpus's own string (IEMOCAP ``"exc"``,
   MELD ``"joy"``, MSP-Podcast ``"U"``, RAVDESS ``"05"``, ...) to a canonical name. It is
   idempotent (a canonical name maps to itself), so it accepts both the ``label`` a recipe wrote
   and the ``raw_label`` it kept. Short codes that differ between corpora (single letters, RAVDESS
   numbers) are only understood with the corpus named.
3. :class:`LabelSet` -- the ordered classes of a protocol (``"4class"`` = angry, happy, neutral,
   sad, with excited merged into happy as in the IEMOCAP 4-class protocol). Applying a set keeps the
   utterances whose label belongs to it, maps merged labels, and *counts* what it drops; a label
   nobody knows raises :class:`~spokenemo.core.errors.LabelError`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from spokenemo.core.errors import LabelError
from spokenemo.data.manifest import Segment
from spokenemo.data.recipes import RAW_LABEL_MAPS

log = logging.getLogger(__name__)

#: Canonical emotion names. Emotions without a counterpart here follow the corpus recipes:
#: EmoDB boredom and EmoryNLP "Powerful" are ``other``, EmoryNLP "Peaceful" is ``calm``
#: (``raw_label`` keeps the original).
CANONICAL: tuple[str, ...] = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised",
    "excited", "frustrated", "contempt", "other", "unknown",
)
_CANONICAL_SET = frozenset(CANONICAL)

# Unambiguous spellings understood for any corpus (case-insensitive). Three-letter codes are the
# IEMOCAP/CREMA-D ones, which agree with each other.
SYNONYMS: Mapping[str, str] = MappingProxyType({
    "neu": "neutral", "neutral state": "neutral", "neutrality": "neutral",
    "hap": "happy", "happiness": "happy", "joy": "happy", "joyful": "happy",
    "sadness": "sad",
    "ang": "angry", "anger": "angry", "mad": "angry",
    "fea": "fearful", "fear": "fearful", "scared": "fearful", "afraid": "fearful",
    "dis": "disgust", "disgusted": "disgust",
    "sur": "surprised", "surprise": "surprised",
    "exc": "excited", "excitement": "excited",
    "fru": "frustrated", "frustration": "frustrated",
    "oth": "other",
    "xxx": "unknown", "no agreement": "unknown",
})

# Spellings beyond what the recipes write in ``raw_label`` (German words for EmoDB, the Chinese
# labels of ESD's transcript files), accepted when the corpus is named.
_EXTRA_RAW_LABELS: Mapping[str, Mapping[str, str]] = {
    "emodb": {"ärger": "angry", "wut": "angry", "langeweile": "other", "boredom": "other",
              "ekel": "disgust", "angst": "fearful", "freude": "happy", "trauer": "sad"},
    "esd": {"surprise": "surprised", "中立": "neutral", "快乐": "happy", "生气": "angry",
            "伤心": "sad", "惊喜": "surprised"},
}


def _raw_label_tables() -> dict[str, dict[str, str]]:
    """Corpus-specific codes, built from the recipes' own tables (the single source of truth)
    plus :data:`_EXTRA_RAW_LABELS`. Only valid with the corpus named: ``"A"`` is angry in
    MSP-Podcast and fear ("Angst") in EmoDB."""
    tables: dict[str, dict[str, str]] = {}
    for corpus, mapping in RAW_LABEL_MAPS.items():
        key = corpus_key(corpus)
        assert key is not None
        tables.setdefault(key, {}).update({raw.casefold(): label for raw, label in mapping.items()})
    for key, mapping in _EXTRA_RAW_LABELS.items():
        tables.setdefault(key, {}).update(mapping)
    return tables


# Spellings of corpus names seen in manifests -> key of RAW_LABELS.
_CORPUS_ALIASES = {"koreanemotiontts": "korean", "emotiontts": "korean", "crema": "cremad",
                   "msp": "msppodcast", "berlin": "emodb"}


def corpus_key(corpus: str | None) -> str | None:
    """Normalise a corpus name (``"CREMA-D"``, ``"msp_podcast"``) to a key of :data:`RAW_LABELS`."""
    if corpus is None:
        return None
    key = re.sub(r"[^0-9a-z]", "", corpus.casefold())
    return _CORPUS_ALIASES.get(key, key)


RAW_LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(_raw_label_tables())


def normalize_label(label: str, corpus: str | None = None) -> str:
    """Map a canonical or raw emotion label to its canonical name.

    Parameters
    ----------
    label : str
        A canonical name (returned unchanged), a spelling from :data:`SYNONYMS`, or a code of
        ``corpus`` from :data:`RAW_LABELS`. Case and surrounding spaces are ignored.
    corpus : str, optional
        The corpus the label comes from; needed for short codes such as MSP-Podcast ``"U"``.

    Returns
    -------
    str
        A member of :data:`CANONICAL`.

    Raises
    ------
    LabelError
        The label is not known (for that corpus).
    """
    if not isinstance(label, str):
        raise LabelError(f"emotion label must be a string, got {label!r}")
    text = " ".join(label.strip().casefold().split())
    if text in _CANONICAL_SET:
        return text
    ckey = corpus_key(corpus)
    if ckey is not None and text in RAW_LABELS.get(ckey, {}):
        return RAW_LABELS[ckey][text]
    if text in SYNONYMS:
        return SYNONYMS[text]
    where = f" of corpus {corpus!r}" if corpus else ""
    if ckey is None or ckey not in RAW_LABELS:
        hint = ("use a canonical name (" + ", ".join(CANONICAL) + "); short corpus codes need the "
                "corpus named (known corpora: " + ", ".join(sorted(RAW_LABELS)) + ")")
    else:
        hint = f"labels known for {corpus!r}: " + ", ".join(sorted(RAW_LABELS[ckey]))
    raise LabelError(f"unknown emotion label {label!r}{where}", hint=hint)


@dataclass(frozen=True)
class LabelSet:
    """The ordered classes of a protocol and how other labels map onto them.

    Parameters
    ----------
    name : str
        Registry name (``"4class"``, ``"ravdess8"``, ...).
    names : tuple of str
        Canonical class names in a fixed order (class index = position).
    merge : mapping, optional
        Canonical labels folded into a member before membership is tested
        (``{"excited": "happy"}`` for the IEMOCAP 4-class protocol).
    description : str
        One line for listings.
    """

    name: str
    names: tuple[str, ...]
    merge: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        names = tuple(self.names)
        if not names:
            raise LabelError(f"label set {self.name!r} has no classes")
        bad = [n for n in names if n not in _CANONICAL_SET]
        if bad:
            raise LabelError(f"label set {self.name!r}: {bad} are not canonical emotion names",
                             hint="canonical names: " + ", ".join(CANONICAL))
        if len(set(names)) != len(names):
            raise LabelError(f"label set {self.name!r} repeats a class: {list(names)}")
        merge = dict(_check_merge(self.merge, names, self.name))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "merge", MappingProxyType(merge))

    def __hash__(self) -> int:
        return hash((self.name, self.names, tuple(sorted(self.merge.items()))))

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, label: object) -> bool:
        return label in self.names

    def index(self, label: str) -> int:
        """Class index of a member."""
        return self.names.index(label)

    def map(self, label: str, corpus: str | None = None, merge: Mapping[str, str] | None = None) -> str | None:
        """The member a (canonical or raw) label belongs to, or ``None`` when it is outside the set.

        ``merge`` replaces the set's own merges when given (``{}`` disables them).
        Raises :class:`LabelError` for a label :func:`normalize_label` does not know.
        """
        canonical = normalize_label(label, corpus)
        merges = self.merge if merge is None else _check_merge(merge, self.names, self.name)
        canonical = merges.get(canonical, canonical)
        return canonical if canonical in self.names else None


def _check_merge(merge: Mapping[str, str], names: tuple[str, ...], set_name: str) -> Mapping[str, str]:
    out = {}
    for src, dst in merge.items():
        src_c, dst_c = normalize_label(src), normalize_label(dst)
        if dst_c not in names:
            raise LabelError(f"label set {set_name!r}: merge target {dst!r} is not one of its classes {list(names)}")
        out[src_c] = dst_c
    return out


_ALL_BUILTIN: tuple[LabelSet, ...] = (
    LabelSet("4class", ("angry", "happy", "neutral", "sad"), {"excited": "happy"},
             "IEMOCAP-style 4 classes; excited merged into happy (MELD joy is happy already)"),
    LabelSet("iemocap6", ("angry", "happy", "neutral", "sad", "excited", "frustrated"),
             description="IEMOCAP 6 classes"),
    LabelSet("ravdess8", ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
             description="RAVDESS speech, 8 classes (file-name order)"),
    LabelSet("nemo6", ("angry", "fearful", "happy", "neutral", "sad", "surprised"),
             description="nEMO, 6 classes"),
    LabelSet("meld7", ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
             description="MELD, 7 emotions"),
    LabelSet("emorynlp7", ("neutral", "happy", "sad", "angry", "fearful", "calm", "other"),
             description="EmoryNLP, 7 emotions (calm = Peaceful, other = Powerful)"),
    LabelSet("crema6", ("angry", "disgust", "fearful", "happy", "neutral", "sad"),
             description="CREMA-D, 6 classes"),
    LabelSet("emodb7", ("angry", "other", "disgust", "fearful", "happy", "neutral", "sad"),
             description="EmoDB, 7 classes (other = boredom)"),
    LabelSet("msp8", ("angry", "sad", "happy", "surprised", "fearful", "disgust", "contempt", "neutral"),
             description="MSP-Podcast challenge, 8 classes (other and no-agreement excluded)"),
    LabelSet("esd5", ("neutral", "happy", "angry", "sad", "surprised"), description="ESD, 5 classes"),
)

#: Built-in label sets by name.
LABEL_SETS: Mapping[str, LabelSet] = MappingProxyType({s.name: s for s in _ALL_BUILTIN})


def get_label_set(spec: str | LabelSet) -> LabelSet:
    """A built-in label set by name, or an ad-hoc one from comma-separated names.

    ``"4class"`` -> the built-in set; ``"angry,happy,sad"`` -> a set of those canonical names
    (raw spellings such as ``"joy"`` are normalised), named after the list.
    """
    if isinstance(spec, LabelSet):
        return spec
    if spec in LABEL_SETS:
        return LABEL_SETS[spec]
    if "," in spec:
        names = tuple(normalize_label(p) for p in spec.split(",") if p.strip())
        return LabelSet(",".join(names), names, description="custom")
    raise LabelError(f"unknown label set {spec!r}",
                     hint="built-in sets: " + ", ".join(LABEL_SETS) + "; or list classes, e.g. 'angry,happy,sad'")


NO_LABEL = "(no label)"


class LabelledUtterances(list):
    """The utterances kept by :func:`apply_label_set` (a list), with what was dropped.

    Attributes
    ----------
    label_set : LabelSet
    dropped : collections.Counter
        Canonical label (after merges) -> number of utterances dropped; :data:`NO_LABEL` counts
        utterances with neither ``label`` nor ``raw_label``.
    """

    def __init__(self, items: Iterable[Segment], label_set: LabelSet, dropped: Counter) -> None:
        super().__init__(items)
        self.label_set = label_set
        self.dropped = dropped

    def counts(self) -> dict[str, int]:
        """Kept utterances per class, in the set's order."""
        c = Counter(u.label for u in self)
        return {name: c.get(name, 0) for name in self.label_set.names}


def apply_label_set(
    utterances: Iterable[Segment],
    label_set: LabelSet | str,
    merge: Mapping[str, str] | None = None,
) -> LabelledUtterances:
    """Keep the utterances whose label belongs to ``label_set``, with ``label`` set to the member.

    Parameters
    ----------
    utterances : iterable of Segment
        ``label`` is read (canonical or raw); when it is missing, ``raw_label`` is read with the
        utterance's ``corpus``. Inputs are not modified.
    label_set : LabelSet or str
        A set or a name for :func:`get_label_set`.
    merge : mapping, optional
        Replaces the set's own merges (``{"excited": "happy"}`` for ``"4class"``); ``{}`` turns
        merging off.

    Returns
    -------
    LabelledUtterances
        Copies of the kept utterances (``label`` = member, ``raw_label`` filled with the original
        label if it was empty) and ``.dropped`` counts. Drops are also logged as a warning.

    Raises
    ------
    LabelError
        A label that is not a known emotion, naming the label, the utterance and the set.
    """
    lset = get_label_set(label_set)
    merges = lset.merge if merge is None else _check_merge(merge, lset.names, lset.name)
    kept: list[Segment] = []
    dropped: Counter = Counter()
    for utt in utterances:
        original = utt.label if utt.label is not None else utt.raw_label
        if original is None:
            dropped[NO_LABEL] += 1
            continue
        try:
            canonical = normalize_label(original, utt.corpus)
        except LabelError as err:
            raise LabelError(f"utterance {utt.key!r}: unknown emotion label {original!r} "
                             f"(label set {lset.name!r}: {', '.join(lset.names)})", hint=err.hint) from None
        canonical = merges.get(canonical, canonical)
        if canonical not in lset.names:
            dropped[canonical] += 1
            continue
        update: dict[str, str] = {"label": canonical}
        if utt.raw_label is None:
            update["raw_label"] = original
        kept.append(utt.model_copy(update=update))
    if dropped:
        log.warning("label set %s: kept %d utterances, dropped %d outside the set (%s)", lset.name,
                    len(kept), sum(dropped.values()),
                    ", ".join(f"{k}={v}" for k, v in sorted(dropped.items())))
    return LabelledUtterances(kept, lset, dropped)
