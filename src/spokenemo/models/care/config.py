"""The options of a CARE graph (:class:`CareModelConfig`) and its named configurations.

Light module (pydantic only): the torch graph is built from it by
:func:`spokenemo.models.care.graph.build_care`. Named configurations (:data:`CARE_PRESETS`):

- ``care-thesis``: WavLM-base (CNN + layers 1-6 common, 7-12 acoustic) and RoBERTa-base's last
  6 layers, both from local directories (``hf:/path``), PASE+-sized (256) or eGeMAPS targets;
- ``care-whisper-base``: the offline configuration, the packaged Whisper-base encoder (layers 1-3
  common, 4-6 acoustic, initialised from Whisper) and all-MiniLM-L6-v2's 6 layers (384-d); the
  adapters map 512 -> 384 (all-mpnet-base-v2, the 768-d stand-in for RoBERTa-base named in the
  spec, is not installed here: ``text: mpnet`` selects it where it is);
- ``care-whisper-base-random``: the same graph with random Whisper-base weights (B0, random frozen);
- ``care-tiny-whisper``, ``care-tiny-wavlm``: tiny random versions of both (unit tests, B0).

Ablation flags (thesis 1.5): ``semantic`` (``adapters`` = CARE, ``no-init``, ``trans``, ``ft``),
``speech_init`` (``pretrained`` or ``random``; HuBERT/data2vec/WavLM initialisation = a different
``speech`` folder), ``acoustic_target`` (``egemaps`` or ``pase``), ``semantic_target``
(``text-pool``; the frame-level and Whisper targets are named but refused: they need word
alignments or a Whisper-large-v3 teacher), branch selection downstream (the encoder's ``branch``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spokenemo.core.errors import ConfigError

Semantic = Literal["adapters", "no-init", "trans", "ft"]
#: Acoustic target -> frame width (eGeMAPS v02 LLDs: 25; PASE+: 256).
ACOUSTIC_DIMS = {"egemaps": 25, "pase": 256}
SEMANTIC_TARGETS = ("text-pool", "text-frame", "whisper-pool", "whisper-frame")
#: Speech names that build a random tiny backbone from :class:`TinySizes`.
TINY_SPEECH = ("tiny-whisper", "tiny-wavlm")
TINY_TEXT = "tiny-bert"


class TinySizes(BaseModel):
    """Sizes of the tiny random backbones (thesis 1.7 ``care-tiny``: hidden 256, 4 heads, FFN 1024)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speech_dim: int = Field(64, ge=8)
    speech_heads: int = Field(4, ge=1)
    speech_ffn: int = Field(128, ge=8)
    conv_channels: int = Field(32, ge=4)
    text_dim: int = Field(48, ge=8)
    text_heads: int = Field(4, ge=1)
    text_ffn: int = Field(96, ge=8)


class CareModelConfig(BaseModel):
    """One CARE graph (see the module docstring).

    Parameters
    ----------
    speech : ``whisper-base``, ``whisper-tiny.en`` (packaged), ``hf:/path`` (a local WavLM /
        HuBERT / data2vec-audio folder), or ``tiny-whisper`` / ``tiny-wavlm`` (random, ``tiny``).
    n_common, n_acoustic : the speech layers of the common and the acoustic encoder (their sum is
        the backbone's depth: 3 + 3 for Whisper-base, 6 + 6 for WavLM-base).
    speech_init : ``pretrained`` or ``random`` (the No-pre-training / B0 baselines).
    text : ``minilm``, ``mpnet``, ``hf:/path`` (RoBERTa-base) or ``tiny-bert`` (random).
    text_layers : the text model's last layers used by the semantic branch (6).
    adapter_dim : width the adapters map into; None = the text model's hidden size. A value that
        differs from it is a :class:`CareShapeError` when the graph is built.
    kernel, stride : the conv adapters (5, 3): ``Conv1d`` down (time / stride), ``ConvTranspose1d``
        up (time x stride, ``output_padding`` 1), cropped or zero-padded back to T frames.
    semantic : ``adapters`` (CARE: frozen text layers between trainable adapters), ``no-init``
        (no adapters, text layers randomly initialised and trained), ``trans`` (no adapters, text
        layers trained), ``ft`` (adapters, text layers trained).
    acoustic_target, acoustic_dim : the frame target and its width (None: 25 eGeMAPS, 256 PASE+).
    semantic_target : ``text-pool`` (the text teacher's pooled embedding of the transcript).
    acoustic_updates_common : False (the authors' code): the acoustic loss trains the acoustic
        encoder and its FC only; True lets it reach the common encoder too.
    train_frontend : train the convolutional front end too (the authors' code keeps it frozen).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    speech: str = "whisper-base"
    n_common: int = Field(3, ge=1)
    n_acoustic: int = Field(3, ge=1)
    speech_init: Literal["pretrained", "random"] = "pretrained"
    text: str = "minilm"
    text_layers: int = Field(6, ge=1)
    adapter_dim: int | None = Field(None, ge=1)
    kernel: int = Field(5, ge=1)
    stride: int = Field(3, ge=1)
    semantic: Semantic = "adapters"
    acoustic_target: Literal["egemaps", "pase"] = "egemaps"
    acoustic_dim: int | None = Field(None, ge=1)
    semantic_target: Literal["text-pool", "text-frame", "whisper-pool", "whisper-frame"] = "text-pool"
    acoustic_updates_common: bool = False
    train_frontend: bool = False
    tiny: TinySizes = Field(default_factory=TinySizes)

    @model_validator(mode="after")
    def _check(self) -> CareModelConfig:
        if self.semantic_target != "text-pool":
            raise ValueError(f"semantic_target {self.semantic_target!r} is not implemented (it needs word "
                             "alignments or a Whisper-large-v3 teacher); use 'text-pool'")
        if self.kernel < self.stride:
            raise ValueError(f"kernel ({self.kernel}) must be at least the stride ({self.stride})")
        return self

    @property
    def target_dim(self) -> int:
        """Width of the acoustic target frames."""
        return self.acoustic_dim or ACOUSTIC_DIMS[self.acoustic_target]

    @property
    def uses_adapters(self) -> bool:
        return self.semantic in ("adapters", "ft")

    @property
    def trains_text(self) -> bool:
        return self.semantic in ("no-init", "trans", "ft")


class CareShapeError(ConfigError):
    """Two parts of a CARE graph do not fit (a text model's width against the adapters, a checkpoint
    against the graph it is loaded into)."""


#: Named graphs (``CareModelConfig(**CARE_PRESETS[name])``).
CARE_PRESETS: dict[str, dict[str, object]] = {
    "care-thesis": {"speech": "hf:models/wavlm-base", "n_common": 6, "n_acoustic": 6,
                    "text": "hf:models/roberta-base", "text_layers": 6, "acoustic_target": "egemaps"},
    "care-whisper-base": {"speech": "whisper-base", "n_common": 3, "n_acoustic": 3, "text": "minilm",
                          "text_layers": 6},
    "care-whisper-base-random": {"speech": "whisper-base", "n_common": 3, "n_acoustic": 3, "text": "minilm",
                                 "text_layers": 6, "speech_init": "random"},
    "care-tiny-whisper": {"speech": "tiny-whisper", "n_common": 2, "n_acoustic": 2, "text": TINY_TEXT,
                          "text_layers": 2, "speech_init": "random"},
    "care-tiny-wavlm": {"speech": "tiny-wavlm", "n_common": 2, "n_acoustic": 2, "text": TINY_TEXT,
                        "text_layers": 2, "speech_init": "random"},
}


def care_config(name_or_options: str | dict[str, object] | CareModelConfig, **overrides: object) -> CareModelConfig:
    """A :class:`CareModelConfig` from a preset name, a mapping of options, or a config (+ overrides)."""
    if isinstance(name_or_options, CareModelConfig):
        return name_or_options.model_copy(update=overrides) if overrides else name_or_options
    if isinstance(name_or_options, str):
        if name_or_options not in CARE_PRESETS:
            raise ConfigError(f"unknown CARE configuration {name_or_options!r}",
                              hint=f"known: {', '.join(sorted(CARE_PRESETS))}")
        options = dict(CARE_PRESETS[name_or_options])
    else:
        options = dict(name_or_options)
        base = options.pop("preset", None)
        if base is not None:
            options = {**dict(care_config(str(base)).model_dump(exclude={"tiny"})), **options}
    options.update(overrides)
    try:
        return CareModelConfig(**options)
    except ValueError as err:
        raise ConfigError(f"CARE model options: {err}", hint="see spokenemo.models.care.config") from None


#: Files of a CARE model folder (:mod:`spokenemo.models.care.io`).
CONFIG_FILE, WEIGHTS_FILE = "care.json", "model.safetensors"

#: Encoder-name prefixes: a pre-trained model folder, or an untrained graph (a preset at its initialisation).
CARE_PREFIX, CARE_INIT_PREFIX = "care:", "care-init:"


def parse_care_name(name: str) -> tuple[str, str, str]:
    """``"care:DIR[#branch]"`` -> ``("folder", DIR, branch)``; ``"care-init:PRESET[#branch]"`` ->
    ``("init", PRESET, branch)``; branch defaults to ``both``.

    >>> parse_care_name("care:runs/care/a/best#acoustic")
    ('folder', 'runs/care/a/best', 'acoustic')
    """
    for prefix, kind in ((CARE_INIT_PREFIX, "init"), (CARE_PREFIX, "folder")):
        if name.startswith(prefix):
            source, _, branch = name[len(prefix):].partition("#")
            branch = branch or "both"
            if branch not in ("both", "acoustic", "semantic") or not source:
                raise ConfigError(f"bad CARE encoder name {name!r}",
                                  hint="care:MODEL_DIR[#both|#acoustic|#semantic] or care-init:PRESET[#branch]")
            return kind, source, branch
    raise ConfigError(f"{name!r} is not a CARE encoder name", hint="care:MODEL_DIR[#branch] or care-init:PRESET")
