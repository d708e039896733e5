"""Evidence 1 and 2 of thesis.md 6.6 for trained converters, on RAVDESS clips they were not trained on.

1. A logistic probe (trained on the training clips' embeddings, scored on repetition 02 of the same
   actors) recovers emotion from ``s`` and speaker from ``e_bar``; the adversarial heads should lower
   these against a converter trained with both adversarial weights at 0.
2. Teacher-forced F0 L1 against per-speaker mean-F0 baselines, on repetition 02 of the training
   actors (seen speakers) and on actors 17-20 (unseen).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spokenemo.api.convert import load_converter
from spokenemo.systems.zest.analysis import Analyser
from spokenemo.systems.zest.corpus import Clip, ravdess_clips, select
from spokenemo.systems.zest.probes import f0_l1, probe_embeddings
from spokenemo.systems.zest.train import analyse_clips


def _analyser(conv: Any) -> Analyser:
    cfg = conv.config
    layers = set(cfg.units.candidates if cfg.units.layer is None else [cfg.units.layer])
    return Analyser(cfg.units.encoder, sorted(layers | {cfg.style.emotion_layer}), cfg.transfer.f0_method,
                    cfg.cache_dir)


def evidence(converters: dict[str, Any], *, unseen_actors: Sequence[str] = ("17", "18", "19", "20")
             ) -> dict[str, Any]:
    """Probe accuracies and F0 L1 per converter (name -> folder or loaded converter)."""
    out: dict[str, Any] = {}
    for name, folder in converters.items():
        conv = load_converter(folder)
        d = conv.config.data
        clips = ravdess_clips(d.root)
        train = select(clips, actors=d.actors, emotions=d.emotions, repetitions=d.repetitions)
        held = select(clips, actors=d.actors, emotions=d.emotions, repetitions=["02"])
        unseen = select(clips, actors=list(unseen_actors), emotions=d.emotions)
        an = _analyser(conv)
        a_train, a_held, a_unseen = (analyse_clips(an, c) for c in (train, held, unseen))

        def meta(cs: Sequence[Clip]) -> list[tuple[str, str]]:
            return [(c.actor, c.emotion) for c in cs]
        out[name] = {"probes": probe_embeddings(conv, a_train, a_held, meta(train), meta(held)),
                     "f0_seen": f0_l1(conv, a_held, [c.actor for c in held]),
                     "f0_unseen": f0_l1(conv, a_unseen, [c.actor for c in unseen]),
                     "clips": {"train": len(train), "held": len(held), "unseen": len(unseen)}}
    return out
