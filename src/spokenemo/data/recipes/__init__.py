"""Corpus recipes: one module per corpus, each turning an official release into a manifest.

In the style of lhotse recipes, a recipe reads the release *as distributed* (folder layout, label
files, file-name codes) and returns a list of :class:`~spokenemo.data.manifest.Segment`
sorted by key, with absolute audio paths and durations read from the audio headers.

>>> from spokenemo.data import prepare
>>> utts = prepare("ravdess", "/data/RAVDESS")            # doctest: +SKIP
>>> utts = prepare("meld", "/data/MELD", clips="/data/MELD.Raw")  # doctest: +SKIP

Every recipe accepts ``with_duration`` (default True) and ``on_missing`` (``'error'``,
``'skip'`` or ``'keep'``: what to do with labelled items whose audio file is missing).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spokenemo.core.errors import SpokenemoError
from spokenemo.data.manifest import Segment
from spokenemo.data.recipes import (
    cmu_mosi,
    crema_d,
    emodb,
    esd,
    generic,
    iemocap,
    korean_emotiontts,
    meld,
    msp_podcast,
    nemo,
    ravdess,
)


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: ``name``, the ``prepare`` function and what it expects."""

    name: str
    prepare: Callable[..., list[Segment]]
    description: str
    layout: str
    languages: tuple[str, ...] = ()
    has_audio: bool = True

    def options(self) -> list[str]:
        """Keyword options accepted besides ``root``."""
        return [p for p in inspect.signature(self.prepare).parameters if p != "root"]


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("ravdess", ravdess.prepare, "RAVDESS acted speech (and song), 24 actors, 8 emotions",
           ravdess.EXPECTED, ("en",)),
    Recipe("nemo", nemo.prepare, "nEMO Polish emotional speech, 9 speakers, 6 emotions", nemo.EXPECTED, ("pl",)),
    Recipe("korean_emotiontts", korean_emotiontts.prepare,
           "Korean emotional TTS corpus (emotiontts_open_db sample), 4 emotions", korean_emotiontts.EXPECTED, ("ko",)),
    Recipe("meld", meld.prepare_meld, "MELD multi-party Friends dialogues, 7 emotions (text; clips optional)",
           "train_sent_emo.csv, dev_sent_emo.csv, test_sent_emo.csv (+ clips folders)", ("en",)),
    Recipe("emorynlp", meld.prepare_emorynlp, "EmoryNLP Friends scenes, 7 emotions (text only)",
           "emorynlp_{train,dev,test}_final.csv", ("en",), has_audio=False),
    Recipe("iemocap", iemocap.prepare, "IEMOCAP dyadic sessions, 10 speakers", iemocap.EXPECTED, ("en",)),
    Recipe("emodb", emodb.prepare, "Berlin EmoDB, 10 speakers, 7 emotions", emodb.EXPECTED, ("de",)),
    Recipe("crema_d", crema_d.prepare, "CREMA-D, 91 actors, 6 emotions", crema_d.EXPECTED, ("en",)),
    Recipe("msp_podcast", msp_podcast.prepare, "MSP-Podcast natural speech, consensus labels",
           msp_podcast.EXPECTED, ("en",)),
    Recipe("esd", esd.prepare, "ESD Mandarin/English emotional speech, 20 speakers, 5 emotions",
           esd.EXPECTED, ("zh", "en")),
    Recipe("cmu_mosi", cmu_mosi.prepare, "CMU-MOSI YouTube opinion monologues, sentiment (MMSA layout)",
           cmu_mosi.EXPECTED, ("en",)),
    Recipe("folder", generic.prepare_folder, "any corpus stored as one folder per label",
           "<root>/<label>/**/*.wav"),
    Recipe("csv", generic.prepare_csv, "any corpus listed in a CSV with path,label[,speaker,text,...]",
           "a CSV file with columns path,label"),
)}

#: Other spellings accepted by :func:`prepare`.
ALIASES = {"korean": "korean_emotiontts", "crema-d": "crema_d", "cremad": "crema_d",
           "msp-podcast": "msp_podcast", "msppodcast": "msp_podcast", "emo-db": "emodb"}
#: Names that stand for ``folder`` or ``csv``, chosen by what the root is (see :func:`resolve_corpus`).
GENERIC = "generic"
_TABLE_SUFFIXES = (".csv", ".tsv", ".tab")


#: Corpus -> {raw label as the recipe writes it -> canonical label}.
RAW_LABEL_MAPS: dict[str, dict[str, str]] = {
    "ravdess": ravdess.EMOTIONS, "nemo": nemo.EMOTIONS, "meld": meld.MELD_EMOTIONS,
    "emorynlp": meld.EMORYNLP_EMOTIONS, "iemocap": iemocap.EMOTIONS, "emodb": emodb.EMOTIONS,
    "crema_d": crema_d.EMOTIONS, "msp_podcast": msp_podcast.EMOTIONS, "esd": esd.EMOTIONS,
    "korean_emotiontts": {raw: label for _, _, raw, label in korean_emotiontts.RANGES},
}


def recipe_label(corpus: str | None, raw: str) -> str | None:
    """Canonical label of ``raw`` in ``corpus``'s own label scheme (as its recipe writes
    ``raw_label``), or None when the corpus or the label is unknown to the recipes.

    Corpus names are matched loosely (``"CREMA-D"``, ``"cremad"``, ``"msppodcast"``).
    """
    if not corpus:
        return None
    squashed = "".join(ch for ch in corpus.lower() if ch.isalnum())
    for name, mapping in RAW_LABEL_MAPS.items():
        if squashed == name.replace("_", "") or ALIASES.get(corpus.lower()) == name:
            return mapping.get(raw)
    return None


def available_corpora() -> list[str]:
    """Names of the registered recipes, sorted."""
    return sorted(RECIPES)


def corpus_names() -> dict[str, list[str]]:
    """Recipe name -> the other names it answers to (``generic`` is listed under ``folder`` and ``csv``)."""
    names: dict[str, list[str]] = {name: [] for name in available_corpora()}
    for alias, name in sorted(ALIASES.items()):
        names[name].append(alias)
    names["folder"].append(GENERIC)
    names["csv"].append(GENERIC)
    return names


def _is_table(path: Path) -> bool:
    """Whether ``path`` is a CSV/TSV file whose header has ``path`` and ``label`` columns."""
    if not (path.is_file() and path.suffix.lower() in _TABLE_SUFFIXES):
        return False
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
    except OSError:
        return False
    columns = {c.strip().lower() for c in header.replace("\t", ",").split(",")}
    return {"path", "label"} <= columns


def resolve_corpus(corpus: str, root: str | Path | None = None) -> tuple[str, Path | None]:
    """The recipe name ``corpus`` stands for, and the root to give it.

    Aliases map to their recipe (``cremad`` -> ``crema_d``). ``generic`` becomes ``csv`` when
    ``root`` is a file, or a folder holding exactly one CSV/TSV table with ``path`` and ``label``
    columns (which then becomes the root), and ``folder`` (one sub-folder per label) otherwise.
    """
    name = corpus.strip().lower()
    name = ALIASES.get(name, name)
    path = None if root is None else Path(root).expanduser()
    if name != GENERIC:
        return name, path
    if path is None:
        raise SpokenemoError("corpus 'generic' needs the root to choose between the folder and csv recipes",
                             hint="name the recipe: 'folder' (one sub-folder per label) or 'csv' (a table)")
    if path.is_file():
        return "csv", path
    tables = [p for p in sorted(path.iterdir()) if _is_table(p)] if path.is_dir() else []
    if len(tables) == 1:
        return "csv", tables[0]
    return "folder", path


def get_recipe(corpus: str, root: str | Path | None = None) -> Recipe:
    """The recipe registered under ``corpus`` (or one of its :data:`ALIASES`; ``generic`` needs ``root``)."""
    name, _ = resolve_corpus(corpus, root)
    try:
        return RECIPES[name]
    except KeyError:
        raise SpokenemoError(f"no recipe for corpus {corpus!r}",
                             hint=f"choose one of: {', '.join(available_corpora())} "
                                  f"(or {', '.join(sorted([*ALIASES, GENERIC]))})") from None


def prepare(corpus: str, root: str | Path, **options: Any) -> list[Segment]:
    """Run the recipe for ``corpus`` on ``root`` and return its utterances (sorted by key).

    Parameters
    ----------
    corpus : str
        A name from :func:`available_corpora`, an alias such as ``"crema-d"``, or ``"generic"``
        (``folder`` or ``csv``, chosen by ``root``; see :func:`resolve_corpus`).
    root : path
        The corpus root (for ``csv``: the CSV file).
    **options
        Recipe options, e.g. ``with_duration=False``, ``on_missing="skip"``,
        ``include_song=True`` (RAVDESS), ``clips=...`` (MELD). Unknown options are an error
        that lists the valid ones.

    Raises
    ------
    CorpusLayoutError
        ``root`` does not hold the release the recipe expects, or audio is missing.
    SpokenemoError
        Unknown corpus or option.
    """
    name, path = resolve_corpus(corpus, root)
    recipe = get_recipe(name)
    root = path if path is not None else root
    try:
        inspect.signature(recipe.prepare).bind(root, **options)
    except TypeError:
        bad = sorted(set(options) - set(recipe.options()))
        raise SpokenemoError(f"recipe {recipe.name!r} has no option {', '.join(bad) or '(bad call)'}",
                             hint=f"its options are: {', '.join(recipe.options())}") from None
    return recipe.prepare(root, **options)


__all__ = ["ALIASES", "GENERIC", "RAW_LABEL_MAPS", "RECIPES", "Recipe", "available_corpora", "corpus_names",
           "get_recipe", "prepare", "recipe_label", "resolve_corpus"]
