"""The grounded teacher: a deterministic "LLM backend" that writes the AECoTD label-conditioned chain
of thought (docs/methods/aecotd.md, section 4) from measured cue evidence and the emotion profiles.

Given a ``teacher_label`` prompt (``Words: "..."``, ``Cues: ...``, ``Emotion heard: X``), it
answers with reasoning built by :func:`spokenemo.features.evidence.explain.grounded_sentences`:
what the cues show (with sizes when audio evidence is known), the pitch contour, and which cues
support and which speak against the heard emotion -- every sentence true of the evidence by
construction -- followed by ``Emotion: X``. The evidence is the audio evidence registered for
that prompt's cue text (``evidence=``, keyed by cue text), or else the cue text's own words
(:func:`~spokenemo.features.evidence.cuetext.evidence_from_cue_text`).

With ``paraphraser=`` (any other backend) the reasoning is also rephrased by that LLM, and the
paraphrase is used only when the faithfulness checker finds no claim in it that disagrees with
the evidence and at least as many verifiable claims as the original; otherwise the deterministic
text stays (``ChatResult.extra["paraphrase"]`` says which and why).

It plugs into the teacher stage as ``spokenemo teach --backend grounded`` (or ``get_backend("grounded")``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from spokenemo.core.errors import BackendError
from spokenemo.features.evidence.cuetext import evidence_from_cue_text
from spokenemo.features.evidence.evidence import Evidence
from spokenemo.features.evidence.explain import grounded_sentences
from spokenemo.features.evidence.faithfulness import check_faithfulness
from spokenemo.llm.base import ChatResult, LLMBackend, Message, check_messages

GROUNDED_NAME = "grounded-teacher-v1"
_LABEL = re.compile(r"^\s*Emotion heard:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_CUES = re.compile(r"^\s*Cues:\s*(.*?)(?=^\s*Emotion heard:|\Z)", re.MULTILINE | re.DOTALL | re.IGNORECASE)
PARAPHRASE_PROMPT = ("Rephrase this explanation of a voice recording in plain, short sentences. Keep every "
                     "measured fact and number; add nothing.\n\n{text}")


def grounded_chain_of_thought(evidence: Evidence, label: str) -> str:
    """The reasoning for ``label`` from ``evidence`` (no ``Emotion:`` line)."""
    sentences, _, _ = grounded_sentences(evidence, label)
    return " ".join(sentences)


def read_teacher_prompt(messages: Sequence[Message]) -> tuple[str, str]:
    """``(cue text, heard emotion)`` from the last user message of a ``teacher_label`` prompt."""
    user = [m["content"] for m in messages if m["role"] == "user"]
    if not user:
        raise BackendError("the grounded teacher needs a user message with 'Cues:' and 'Emotion heard:'")
    last = user[-1]
    label, cues = _LABEL.search(last), _CUES.search(last)
    if not label or not cues:
        raise BackendError("the grounded teacher reads label-conditioned teacher prompts only "
                           "('Cues: ...' and 'Emotion heard: ...' lines)",
                           hint="use the teacher_label template (spokenemo teach --mode label)")
    return cues.group(1).strip(), label.group(1).strip()


def accept_paraphrase(original: str, paraphrase: str, evidence: Evidence) -> tuple[bool, str]:
    """Whether a paraphrase keeps the original's checked claims and adds no wrong one."""
    before, after = check_faithfulness(original, evidence), check_faithfulness(paraphrase, evidence)
    if after.n_verifiable and after.agreement is not None and after.agreement < 1.0:
        bad = after.n_verifiable - after.count("agrees")
        return False, f"{bad} of {after.n_verifiable} claims disagree with the measurement"
    if after.n_verifiable < before.n_verifiable:
        return False, f"{after.n_verifiable} verifiable claims against {before.n_verifiable} in the original"
    return True, f"all {after.n_verifiable} verifiable claims agree"


class GroundedTeacher(LLMBackend):
    """Deterministic grounded teacher (see the module docstring).

    Parameters
    ----------
    evidence : audio evidence by the cue text of the prompt it belongs to (optional).
    paraphraser : a backend that rephrases the reasoning (optional; checked before use).
    """

    name = "grounded"
    model_name = GROUNDED_NAME

    def __init__(self, evidence: Mapping[str, Evidence] | None = None, paraphraser: LLMBackend | None = None) -> None:
        self.evidence = dict(evidence or {})
        self.paraphraser = paraphraser
        if paraphraser is not None:
            self.model_name = f"{GROUNDED_NAME}+{paraphraser.model_name}"

    def answer(self, messages: Sequence[Message], *, max_tokens: int = 256) -> ChatResult:
        """One teacher answer (reasoning, then ``Emotion: X``)."""
        cue_text, label = read_teacher_prompt(check_messages(messages))
        evidence = self.evidence.get(cue_text) or evidence_from_cue_text(cue_text)
        reasoning = grounded_chain_of_thought(evidence, label)
        extra: dict[str, Any] = {"evidence": "audio" if cue_text in self.evidence else "cue words"}
        if self.paraphraser is not None:
            reasoning, extra["paraphrase"] = self._paraphrase(reasoning, evidence, max_tokens)
        text = f"{reasoning}\nEmotion: {label}"
        return ChatResult(text=text, finish_reason="stop", raw=text, extra=extra)

    def _paraphrase(self, reasoning: str, evidence: Evidence, max_tokens: int) -> tuple[str, str]:
        assert self.paraphraser is not None
        try:
            result = self.paraphraser.chat([{"role": "user", "content": PARAPHRASE_PROMPT.format(text=reasoning)}],
                                           max_tokens=max_tokens)
        except BackendError as err:
            return reasoning, f"rejected: the paraphraser failed ({err.message})"
        candidate = result.text.strip()
        if not candidate or result.finish_reason == "length":
            return reasoning, "rejected: empty or cut off"
        ok, why = accept_paraphrase(reasoning, candidate, evidence)
        return (candidate, f"accepted: {why}") if ok else (reasoning, f"rejected: {why}")

    def chat_batch(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256, temperature: float = 0.0,
                   stop: Sequence[str] | None = None,
                   return_exceptions: bool = False) -> list[ChatResult | Exception]:
        out: list[ChatResult | Exception] = []
        for messages in batch:
            try:
                out.append(self.answer(messages, max_tokens=max_tokens))
            except BackendError as err:
                if not return_exceptions:
                    raise
                out.append(err)
        return out
