"""What a student is asked about, read and checked before any model is loaded.

Loading a student takes seconds and about a gigabyte of memory, so a missing audio file, an
empty reference folder, a bad manifest line or an unknown fold is reported first:

>>> targets = read_targets("clips.jsonl", folds="folds/", fold="fold1")   # doctest: +SKIP
>>> check_audio("clip.wav").duration                                      # doctest: +SKIP
>>> reference_files(["speaker_a/"])                                       # doctest: +SKIP

Nothing here imports torch; :mod:`spokenemo.systems.aecotd.manifest_prediction` and
:mod:`~spokenemo.systems.aecotd.explanation` take these results once the student is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokenemo.audio import AudioInfo, audio_info
from spokenemo.core.errors import AudioNotFoundError, ConfigError, ProtocolError
from spokenemo.data._find import iter_audio
from spokenemo.data.manifest import Segment, read_manifest
from spokenemo.protocols import read_folds

#: Speaker name under which reference medians are added to the thresholds.
REFERENCE_SPEAKER = "<reference>"
#: What cue words compare with when no reference clips are given.
TRAINING_MEDIANS = "the training medians"


def has_label(utt: Segment) -> bool:
    """Whether the row gives a true label (``label`` or the corpus's ``raw_label``, not blank)."""
    return any(value is not None and value.strip() != "" for value in (utt.label, utt.raw_label))


@dataclass(frozen=True)
class Targets:
    """The utterances to predict and the folder their relative audio paths resolve against.

    Attributes
    ----------
    utterances : list of Segment
        In manifest (or key-list) order.
    base_dir : Path or None
        The manifest's folder; None when the utterances did not come from a file.
    """

    utterances: list[Segment]
    base_dir: Path | None = None

    @property
    def n_unlabelled(self) -> int:
        """Rows without a true label: predicted, never scored."""
        return sum(not has_label(u) for u in self.utterances)


def select_keys(utterances: Sequence[Segment], *, keys: Sequence[str] | None = None,
                folds: str | Path | None = None, fold: str | None = None, part: str = "test") -> list[Segment]:
    """The utterances of a key list, or of one part of a fold (``folds`` folder + ``fold`` name)."""
    if folds is not None:
        all_folds = {f.name: f for f in read_folds(folds)}
        if fold not in all_folds:
            raise ProtocolError(f"no fold {fold!r} in {folds}", hint="folds there: " + ", ".join(all_folds))
        keys = list(all_folds[fold].part(part))
    if keys is None:
        return list(utterances)
    by_key = {u.key: u for u in utterances}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ProtocolError(f"{len(missing)} keys are not in the manifest (e.g. {missing[:3]})",
                            hint="use folds built from this manifest")
    return [by_key[k] for k in keys]


def read_targets(manifest: str | Path | Sequence[Segment] | Targets, *, keys: Sequence[str] | None = None,
                 folds: str | Path | None = None, fold: str | None = None, part: str = "test") -> Targets:
    """Read and validate a manifest (or take utterances) and select keys or a fold's part.

    Raises
    ------
    ManifestError
        The manifest is missing or a line is invalid (its line number named).
    ConfigError, ProtocolError
        ``folds`` without ``fold`` (or the reverse), an unknown fold, keys not in the manifest.
    """
    if (folds is None) != (fold is None):
        raise ConfigError("folds and fold go together", hint="e.g. --folds folds/ --fold fold1")
    if isinstance(manifest, Targets):
        utts, base_dir = manifest.utterances, manifest.base_dir
    elif isinstance(manifest, (str, Path)):
        utts, base_dir = read_manifest(manifest), Path(manifest).parent
    else:
        utts, base_dir = list(manifest), None
    return Targets(select_keys(utts, keys=keys, folds=folds, fold=fold, part=part), base_dir)


def check_audio(path: str | Path) -> AudioInfo:
    """The header of an audio file, read to check it exists and is audio before a model loads.

    Raises
    ------
    AudioNotFoundError, NotAudioError, EmptyAudioError
        As :func:`spokenemo.audio.audio_info`.
    """
    return audio_info(path)


def reference_files(paths: Sequence[str | Path]) -> list[Path]:
    """The clips of reference files and folders (searched recursively).

    A clip that exists but cannot be decoded is not refused here: :func:`speaker_reference
    <spokenemo.systems.aecotd.explanation.speaker_reference>` skips it and lists it as failed.

    Raises
    ------
    ConfigError
        A folder without audio files.
    AudioNotFoundError
        A file that does not exist.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(iter_audio(p, recursive=True))
            if not found:
                raise ConfigError(f"reference folder {p} has no audio files",
                                  hint="give clips (.wav, .flac, .opus, ...) of the same speaker")
            files.extend(found)
        elif not p.exists():
            raise AudioNotFoundError(p, "no such reference clip", hint="give existing clips or folders of the speaker")
        else:
            files.append(p)
    return files


@dataclass(frozen=True)
class SpeakerReference:
    """Cue rows of other, unlabelled clips of one speaker, for speaker-relative cue words.

    Attributes
    ----------
    rows : tuple of dict
        Raw cue values per readable clip.
    failed : dict
        Path -> why it was skipped (unreadable, too short, ...).
    """

    rows: tuple[dict[str, Any], ...]
    failed: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)
