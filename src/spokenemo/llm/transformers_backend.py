"""In-process transformers backend: any causal LM from a local folder or (if allowed) a hub id.

Batched generation pads on the left so every sequence ends at the same position and the new
tokens line up. Greedy decoding when ``temperature == 0``; sampling otherwise, reproducible with a
``seed`` (each generated chunk of ``batch_size`` prompts is seeded with ``seed + its offset``, on
a forked torch RNG so the caller's random state is left alone). bf16 is used on CUDA devices that
support it, and on CPU only when asked (``cpu_bf16=True``: faster on CPUs with AVX512-BF16, but
it changes the numbers slightly).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spokenemo.core.errors import BackendError, ModelNotFoundError
from spokenemo.core.lazy import optional_import
from spokenemo.llm.base import ChatResult, LLMBackend, Message, check_messages, cut_at_stop, split_reasoning

log = logging.getLogger(__name__)


def pick_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; other values pass through."""
    if device != "auto":
        return device
    torch = optional_import("torch", purpose="the transformers backend")
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device: str, dtype: str = "auto", cpu_bf16: bool = False) -> Any:
    """The torch dtype to load weights in.

    ``"auto"``: bfloat16 on a CUDA device that supports it, or on CPU when ``cpu_bf16``; else
    float32 (float16 on older GPUs). Explicit ``"float32"``/``"bfloat16"``/``"float16"`` win.
    """
    torch = optional_import("torch", purpose="the transformers backend")
    if dtype != "auto":
        try:
            return getattr(torch, dtype)
        except AttributeError:
            raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16") from None
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_bf16 else torch.float32


class _StopOnText:
    """Stop a sequence once its decoded new text holds a stop string. (transformers' own
    ``stop_strings`` needs a tokenizer whose vocabulary it can map to text, which not all have.)"""

    def __init__(self, tokenizer: Any, prompt_len: int, stops: list[str]) -> None:
        self.tokenizer, self.prompt_len, self.stops = tokenizer, prompt_len, stops

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        torch = optional_import("torch", purpose="the transformers backend")
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


class TransformersBackend(LLMBackend):
    """Chat with a causal LM loaded by ``transformers``.

    Parameters
    ----------
    model : a local folder with ``config.json`` or a hub id (only found in the local hub cache
        unless ``allow_download``).
    model_name : the name outputs are cached under (default: the folder name / hub id).
    device : ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    dtype : ``"auto"`` (see :func:`pick_dtype`) or a torch dtype name.
    cpu_bf16 : allow bfloat16 on CPU with ``dtype="auto"``.
    batch_size : conversations generated together in :meth:`chat_batch`.
    allow_download : let transformers fetch missing files from the hub.
    """

    name = "transformers"
    supports_seed = True

    def __init__(self, model: str | Path, *, model_name: str | None = None, device: str = "auto",
                 dtype: str = "auto", cpu_bf16: bool = False, batch_size: int = 8,
                 allow_download: bool = False) -> None:
        torch = optional_import("torch", purpose="the transformers backend")
        transformers = optional_import("transformers", purpose="the transformers backend")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source = str(model)
        is_dir = Path(self.source).is_dir()
        if Path(self.source).exists() and not is_dir:
            raise ModelNotFoundError(f"{self.source} is a file; the transformers backend wants a model folder "
                                     "(config.json + weights) or a hub id",
                                     hint="for a .gguf file use --backend llamacpp, or pass its folder")
        self.model_name = model_name or (Path(self.source).name if is_dir else self.source)
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype, cpu_bf16)
        self.batch_size = batch_size
        t0 = time.perf_counter()
        hf_logging = optional_import("transformers.utils.logging", purpose="the transformers backend")
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a "Loading weights" bar per load clutters CLI output
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.source, local_files_only=not allow_download)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                self.source, dtype=self.dtype, local_files_only=not allow_download)
        except OSError as err:
            where = "folder" if is_dir else "hub id"
            raise ModelNotFoundError(
                f"cannot load the model {self.source!r} ({where}): {str(err).splitlines()[0]}",
                hint="pass a local folder with config.json and weights"
                     + ("" if allow_download else ", or allow downloads (--allow-download)"),
            ) from err
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        self.model.to(self.device).eval()
        self.load_seconds = time.perf_counter() - t0
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._torch = torch
        log.info("loaded %s on %s (%s) in %.1f s", self.model_name, self.device, self.dtype, self.load_seconds)

    # --- prompt formatting -----------------------------------------------------------------------
    def format_prompt(self, messages: Sequence[Message]) -> str:
        """The chat-templated prompt text with the assistant turn opened."""
        msgs = check_messages(messages)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        # No template (base models): a plain transcript that still ends with the assistant's turn.
        return "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in msgs) + "Assistant:"

    def _encode_prompts(self, prompts: list[str]) -> Any:
        # The chat template already holds the special tokens; adding BOS again would double it.
        return self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    # --- generation ------------------------------------------------------------------------------
    def chat_batch(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 256,
                   temperature: float = 0.0, stop: Sequence[str] | None = None,
                   return_exceptions: bool = False, seed: int | None = None) -> list[ChatResult | Exception]:
        prompts = [self.format_prompt(m) for m in batch]
        results: list[ChatResult | Exception] = []
        for i in range(0, len(prompts), self.batch_size):
            chunk = prompts[i:i + self.batch_size]
            try:
                results.extend(self._generate(chunk, max_tokens, temperature, stop,
                                              None if seed is None else seed + i))
            except BackendError as err:
                if not return_exceptions:
                    raise
                results.extend([err] * len(chunk))
        return results

    def _generate(self, prompts: list[str], max_tokens: int, temperature: float,
                  stop: Sequence[str] | None, seed: int | None = None) -> list[ChatResult]:
        torch = self._torch
        enc = self._encode_prompts(prompts)
        eos_ids = self._eos_ids()
        kwargs: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": self.tokenizer.pad_token_id,
                                  "eos_token_id": eos_ids}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs["stopping_criteria"] = [_StopOnText(self.tokenizer, enc["input_ids"].shape[1], list(stop))]
        seeded = seed is not None and temperature > 0
        devices = [torch.device(self.device).index or 0] if seeded and self.device.startswith("cuda") else []
        try:
            with torch.random.fork_rng(devices=devices, enabled=seeded), torch.inference_mode():
                if seeded:
                    torch.manual_seed(int(seed))  # type: ignore[arg-type]
                out = self.model.generate(**enc, **kwargs)
        except torch.OutOfMemoryError as err:
            raise BackendError(f"out of memory generating {len(prompts)} answers with {self.model_name}",
                               hint="lower --batch-size or --max-tokens") from err
        prompt_len = enc["input_ids"].shape[1]
        results = []
        for row, mask in zip(out, enc["attention_mask"], strict=True):
            new = row[prompt_len:].tolist()
            # Trim padding after the end of a shorter answer; note whether it ended by itself.
            ended = False
            for j, tok in enumerate(new):
                if tok in eos_ids:
                    new, ended = new[:j], True
                    break
            generated = self.tokenizer.decode(new, skip_special_tokens=True)
            generated, hit_stop = cut_at_stop(generated, stop)
            text, reasoning = split_reasoning(generated)
            results.append(ChatResult(
                text=text, reasoning=reasoning, prompt_tokens=int(mask.sum()), completion_tokens=len(new),
                finish_reason="stop" if ended or hit_stop else "length", raw=generated))
        return results

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        ids = list(ids) if isinstance(ids, (list, tuple)) else ([ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    # --- scoring ---------------------------------------------------------------------------------
    def score(self, prompt_messages: Sequence[Message], continuations: Sequence[str]) -> list[float]:
        """Sum of log-probs of each continuation's tokens after the templated prompt.

        The prompt and each continuation are tokenised separately and concatenated, so every
        candidate is scored on the same prompt tokens (no merge across the boundary).
        """
        if not continuations:
            return []
        torch = self._torch
        prompt_ids = self.tokenizer(self.format_prompt(prompt_messages), add_special_tokens=False)["input_ids"]
        cont_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        for c, ids in zip(continuations, cont_ids, strict=True):
            if not ids:
                raise ValueError(f"continuation {c!r} has no tokens")
        scores: list[float] = []
        for i in range(0, len(cont_ids), self.batch_size):
            chunk = cont_ids[i:i + self.batch_size]
            seqs = [prompt_ids + ids for ids in chunk]
            width = max(map(len, seqs))
            pad = self.tokenizer.pad_token_id
            # Right padding: positions of the real tokens stay the same as without padding.
            input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=self.device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=self.device)
            with torch.inference_mode():
                logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits, dim=-1)
            for b, ids in enumerate(chunk):
                start = len(prompt_ids)
                positions = torch.arange(start - 1, start - 1 + len(ids), device=self.device)
                targets = torch.tensor(ids, device=self.device)
                scores.append(float(logp[b, positions, targets].sum()))
        return scores

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()

    def __repr__(self) -> str:
        return f"TransformersBackend(model={self.model_name!r}, device={self.device!r}, dtype={self.dtype})"
