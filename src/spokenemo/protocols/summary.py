"""Counts that describe a manifest: per class, per speaker, class x speaker, durations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from spokenemo.data.conversation import natural_key
from spokenemo.data.manifest import Segment

NO_LABEL = "(none)"


@dataclass
class ManifestSummary:
    """What :func:`summarize` counts.

    Attributes
    ----------
    n : int
        Utterances.
    classes : dict
        Label -> count, most frequent first (``"(none)"`` for unlabelled utterances).
    speakers : dict
        Speaker -> count, speakers in natural order (``corpus/speaker`` when corpora are mixed).
    cross : dict
        Speaker -> {label -> count}.
    corpora : dict
        Corpus -> count.
    seconds : float
        Total known duration; ``n_no_duration`` utterances had none.
    speaker_seconds : dict
        Speaker -> known duration.
    """

    n: int
    classes: dict[str, int]
    speakers: dict[str, int]
    cross: dict[str, dict[str, int]]
    corpora: dict[str, int]
    seconds: float
    n_no_duration: int
    speaker_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    def line(self) -> str:
        """One-line description: utterances, speakers, labels, hours."""
        labels = ", ".join(f"{k}={v}" for k, v in self.classes.items())
        dur = f"{self.hours:.3f} h" + (f" ({self.n_no_duration} without duration)" if self.n_no_duration else "")
        return f"{self.n} utterances, {len(self.speakers)} speakers, {len(self.classes)} labels ({labels}), {dur}"


def _duration(u: Segment) -> float | None:
    if u.duration is not None:
        return u.duration
    if u.start is not None and u.end is not None:
        return u.end - u.start
    return None


def summarize(utterances: Sequence[Segment]) -> ManifestSummary:
    """Count a manifest's utterances by class, speaker, class x speaker and corpus.

    The duration of an utterance is ``duration``, else ``end - start``; utterances with neither
    are counted in ``n_no_duration``. Unknown speakers are listed as ``"(none)"``.
    """
    qualify = len({u.corpus for u in utterances}) > 1
    classes: Counter = Counter()
    speakers: Counter = Counter()
    corpora: Counter = Counter()
    cross: dict[str, Counter] = {}
    spk_sec: Counter = Counter()
    seconds, missing = 0.0, 0
    for u in utterances:
        label = u.label if u.label is not None else NO_LABEL
        spk = NO_LABEL if u.speaker is None else (f"{u.corpus}/{u.speaker}" if qualify else u.speaker)
        classes[label] += 1
        speakers[spk] += 1
        corpora[u.corpus or NO_LABEL] += 1
        cross.setdefault(spk, Counter())[label] += 1
        d = _duration(u)
        if d is None:
            missing += 1
        else:
            seconds += d
            spk_sec[spk] += d
    spk_order = sorted(speakers, key=natural_key)
    return ManifestSummary(
        n=len(utterances),
        classes=dict(sorted(classes.items(), key=lambda kv: (-kv[1], kv[0]))),
        speakers={s: speakers[s] for s in spk_order},
        cross={s: dict(cross[s]) for s in spk_order},
        corpora=dict(corpora.most_common()),
        seconds=seconds,
        n_no_duration=missing,
        speaker_seconds={s: spk_sec.get(s, 0.0) for s in spk_order},
    )
