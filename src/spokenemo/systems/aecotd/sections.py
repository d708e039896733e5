"""AECoTD's sections of an experiment config: ``student`` (training settings) and ``teacher``.

Registered through :attr:`spokenemo.systems.aecotd.system.AecotdSystem.config_sections`, so an
experiment YAML validates them as typed fields (docs/architecture.md, "The System protocol").
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudentSection(_Strict):
    """Student training settings; reduced settings are recorded next to every number.

    Parameters
    ----------
    config : str, optional
        A student training YAML (``configs/aecotd-cpu.yaml``) used as the base; relative paths
        resolve as corpus roots do.
    epochs : float, optional
        Training epochs (paper: 10). ``None`` keeps the student config's value.
    max_train_utterances : int, optional
        Train on at most this many utterances per fold (a class-stratified, seeded subset).
    overrides : dict
        Dotted fields of the student's training config (``optim.lr: 1e-4``, ``model.base: ...``).
        The system's switches (CoT, cues, loss), the fold's data and the seed are set by the runner.
    explain : bool
        Also generate the student's explanation of every test utterance (greedy, after the scored
        label; students trained with CoT). They are written to the fold's ``explanations.jsonl``
        with the cue text of each prompt, and the report checks their faithfulness.
    explain_max_tokens : int
        Most tokens of one generated explanation.
    """

    config: str | None = None
    epochs: float | None = Field(None, gt=0)
    max_train_utterances: int | None = Field(None, ge=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    explain: bool = False
    explain_max_tokens: int = Field(128, ge=8)


class TeacherSection(_Strict):
    """Teacher chain-of-thought: where the cache is and whether missing outputs may be generated.

    Parameters
    ----------
    cache : str, optional
        Teacher cache folder (relative paths as for corpus roots); default: ``OUTDIR/teacher``.
    run_missing : bool
        Call the teacher for prompts not in the cache (slow); otherwise those items train
        without chain of thought and are counted.
    options : dict
        ``backend`` (an :func:`spokenemo.llm.get_backend` kind, default ``embedded``) and
        ``backend_options`` (its keyword options: ``model``, ``base_url``, ...); every other key
        goes to :func:`spokenemo.systems.aecotd.teacher.run_teacher` (``mode``, ``template``,
        ``max_tokens``, ``temperature``, ``model_name``; ``attempts``, ``retry_temperature``,
        ``retry_seed`` to resample invalid answers).
    """

    cache: str | None = None
    run_missing: bool = False
    options: dict[str, Any] = Field(default_factory=dict)
