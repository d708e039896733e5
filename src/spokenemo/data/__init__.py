"""Data: segments (manifest rows), recordings and conversations; corpus recipes; pseudo-conversations.

>>> from spokenemo.data import available_corpora, prepare, write_manifest
>>> segs = prepare("nemo", "shared/data/nemo")          # doctest: +SKIP
>>> write_manifest("nemo.jsonl", segs)                  # doctest: +SKIP
>>> convs = conversations(prepare("meld", "shared/data/meld"))  # doctest: +SKIP

See :mod:`spokenemo.data.recipes` for the recipe list, :mod:`spokenemo.data.conversation` for
recordings and conversations, :mod:`spokenemo.data.pseudo` for pseudo-conversations and
:mod:`spokenemo.data.emobox` for EmoBox JSONL import/export.
"""

from __future__ import annotations

from spokenemo.data.conversation import (
    Conversation,
    ConversationError,
    Recording,
    conversations,
    dialogue_of,
    natural_key,
    recordings,
)
from spokenemo.data.manifest import (
    Segment,
    json_error_text,
    parse_manifest_lines,
    read_manifest,
    require_audio_paths,
    write_manifest,
)
from spokenemo.data.pseudo import (
    DEFAULT_SPEAKERS,
    PseudoConversationError,
    PseudoSpec,
    pseudo_conversations,
    pseudo_parts,
    same_label_rate,
)
from spokenemo.data.recipes import (
    ALIASES,
    RECIPES,
    Recipe,
    available_corpora,
    corpus_names,
    get_recipe,
    prepare,
    resolve_corpus,
)

__all__ = ["ALIASES", "DEFAULT_SPEAKERS", "RECIPES", "Conversation", "ConversationError", "PseudoConversationError",
           "PseudoSpec", "Recipe", "Recording", "Segment", "available_corpora", "conversations",
           "corpus_names", "dialogue_of", "get_recipe", "json_error_text", "natural_key", "parse_manifest_lines",
           "prepare", "pseudo_conversations", "pseudo_parts", "read_manifest", "recordings", "require_audio_paths",
           "resolve_corpus", "same_label_rate", "write_manifest"]
