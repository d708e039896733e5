"""The one small interface every LLM backend implements.

A backend turns chat messages (``[{"role": "system"|"user"|"assistant", "content": str}, ...]``)
into text. Three operations:

- :meth:`LLMBackend.chat` -- one conversation in, one :class:`ChatResult` out;
- :meth:`LLMBackend.chat_batch` -- many conversations (batched on a GPU/CPU, concurrent over HTTP);
- :meth:`LLMBackend.score` -- the log-probability of each candidate continuation after the
  chat-templated prompt (label scoring); backends that cannot do it raise ``NotImplementedError``.

Backends that can seed their sampling (:attr:`LLMBackend.supports_seed`: transformers, llama.cpp)
also take ``seed=`` in ``chat``/``chat_batch``/``iter_chat``; callers pass it only to those.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, str]
Messages = list[Message]

_ROLES = {"system", "user", "assistant"}
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)


@dataclass
class ChatResult:
    """One model answer.

    Parameters
    ----------
    text : the answer, with any ``<think>...</think>`` block removed.
    reasoning : the reasoning the model gave separately (DeepSeek's ``reasoning_content``) or
        inside ``<think>...</think>``; ``None`` when there was none.
    prompt_tokens, completion_tokens : token counts when the backend knows them.
    finish_reason : ``"stop"`` (end of turn or a stop string) or ``"length"`` (hit max_tokens).
    raw : the full generated text before splitting off the reasoning.
    """

    text: str
    reasoning: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    raw: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def usage(self) -> dict[str, int | None]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def split_reasoning(generated: str, reasoning: str | None = None) -> tuple[str, str | None]:
    """Separate a ``<think>...</think>`` block from the answer text.

    An unclosed ``<think>`` (the model ran out of tokens while thinking) counts as reasoning up to
    the end. A separately supplied ``reasoning`` (API field) wins over an inline block.

    Returns
    -------
    (text, reasoning) : the answer without the block (stripped) and the reasoning or ``None``.
    """
    blocks = [m.group(1).strip() for m in _THINK.finditer(generated)]
    text = _THINK.sub("", generated).strip()
    if reasoning is not None and reasoning.strip():
        return text, reasoning.strip()
    inline = "\n".join(b for b in blocks if b)
    return text, inline or None


def check_messages(messages: Sequence[Message]) -> Messages:
    """Validate chat messages and return them as a plain list of dicts.

    Raises ``ValueError`` naming the bad message, so a mistake in a template shows at once.
    """
    if isinstance(messages, (str, bytes)) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    out: Messages = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"message {i} must be a dict with 'role' and 'content', got {m!r:.80}")
        if m["role"] not in _ROLES:
            raise ValueError(f"message {i} has role {m['role']!r}; use one of {sorted(_ROLES)}")
        if not isinstance(m["content"], str):
            raise ValueError(f"message {i} content must be a string, got {type(m['content']).__name__}")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def cut_at_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the first stop string; return (text, whether one was found)."""
    if not stop:
        return text, False
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    if not cuts:
        return text, False
    return text[: min(cuts)], True


def _seed_kwargs(backend: LLMBackend, seed: int | None) -> dict[str, int]:
    """``{"seed": seed}`` for a backend that takes one; a seed given to one that cannot is an error."""
    if seed is None:
        return {}
    if not backend.supports_seed:
        raise ValueError(f"the {backend.name} backend cannot seed its sampling; pass seed=None")
    return {"seed": int(seed)}


class LLMBackend(ABC):
    """Base class of the backends. Subclasses set :attr:`name` (the backend kind) and
    :attr:`model_name` (what the outputs are cached under) and implement :meth:`chat_batch`."""

    name: str = "base"
    model_name: str = "unknown"
    #: Whether :meth:`chat_batch` takes ``seed=`` (an int: sampling at ``temperature > 0`` is then
    #: reproducible; conversation ``i`` of a call, or its chunk, is sampled with ``seed + i``).
    supports_seed: bool = False

    def chat(self, messages: Sequence[Message], *, max_tokens: int = 256, temperature: float = 0.0,
             stop: Sequence[str] | None = None, seed: int | None = None) -> ChatResult:
        """Answer one conversation.

        Parameters
        ----------
        messages : chat messages, oldest first.
        max_tokens : most tokens to generate.
        temperature : 0 means greedy decoding (deterministic).
        stop : strings that end the answer (not included in the text).
        seed : sampling seed; only for backends with :attr:`supports_seed` (``None``: unseeded).
        """
        result = self.chat_batch([messages], max_tokens=max_tokens, temperature=temperature, stop=stop,
                                 **_seed_kwargs(self, seed))[0]
        if isinstance(result, BaseException):
            raise result
        return result

    @abstractmethod
    def chat_batch(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256,
                   temperature: float = 0.0, stop: Sequence[str] | None = None,
                   return_exceptions: bool = False) -> list[ChatResult | Exception]:
        """Answer many conversations; results keep the input order.

        Parameters
        ----------
        batch : a list of conversations.
        return_exceptions : put a per-item :class:`~spokenemo.core.errors.BackendError` in the result
            list instead of raising it (an ``AuthenticationError`` is always raised).
        """

    def iter_chat(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256, temperature: float = 0.0,
                  stop: Sequence[str] | None = None,
                  seed: int | None = None) -> Iterator[tuple[int, ChatResult | Exception]]:
        """Answer many conversations, yielding ``(index, result)`` as soon as each is ready, so a
        caller can save every answer before the next one arrives.

        A per-item :class:`~spokenemo.core.errors.BackendError` is yielded as the result; an
        ``AuthenticationError`` is raised. The base version works in chunks of
        :attr:`chunk_size` conversations (the batch a backend generates together); with a
        ``seed`` (backends with :attr:`supports_seed` only) the chunk starting at conversation
        ``start`` gets ``seed + start``.
        """
        size = max(1, self.chunk_size)
        for start in range(0, len(batch), size):
            chunk_seed = None if seed is None else seed + start
            results = self.chat_batch(batch[start:start + size], max_tokens=max_tokens, temperature=temperature,
                                      stop=stop, return_exceptions=True, **_seed_kwargs(self, chunk_seed))
            for offset, result in enumerate(results):
                yield start + offset, result

    @property
    def chunk_size(self) -> int:
        """How many conversations :meth:`iter_chat` hands to :meth:`chat_batch` at once."""
        return int(getattr(self, "batch_size", 1))

    def score(self, prompt_messages: Sequence[Message], continuations: Sequence[str]) -> list[float]:
        """Sum of the log-probabilities (natural log) of each continuation's tokens after the
        chat-templated prompt (with the assistant turn opened)."""
        raise NotImplementedError(f"the {self.name} backend cannot score continuations")

    def close(self) -> None:
        """Release resources (HTTP clients, model memory). Safe to call twice."""
        return None

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_name!r})"
