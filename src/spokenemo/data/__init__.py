"""Corpora: one recipe per corpus turning an official release into an utterance manifest.

>>> from spokenemo.data import available_corpora, prepare, write_manifest
>>> utts = prepare("nemo", "shared/data/nemo")          # doctest: +SKIP
>>> write_manifest("nemo.jsonl", utts)                  # doctest: +SKIP

See :mod:`spokenemo.data.recipes` for the recipe list and :mod:`spokenemo.data.emobox`
for EmoBox JSONL import/export.
"""

from __future__ import annotations

from spokenemo.data.manifest import Utterance, parse_manifest_lines, read_manifest, write_manifest
from spokenemo.data.recipes import ALIASES, RECIPES, Recipe, available_corpora, get_recipe, prepare

__all__ = ["ALIASES", "RECIPES", "Recipe", "Utterance", "available_corpora", "get_recipe",
           "parse_manifest_lines", "prepare", "read_manifest", "write_manifest"]
