"""Label scoring in one forward pass, and generation, for the student.

**Scoring.** For each utterance the prompt is followed by every candidate head
(``label<think>``, or ``label`` + end of turn without chain of thought; see
:mod:`spokenemo.systems.aecotd.tokens`) *packed into the same row*::

    [left padding] prompt | cand_1 | cand_2 | ... | cand_K

A 4-D attention mask lets each candidate token see the prompt and the earlier tokens of its
own candidate only, and position ids restart after the prompt for every candidate, so each
candidate is scored exactly as if it were alone after the prompt, while the prompt is
computed once (shared prefix). Several utterances go in one padded batch; prompts are
left-padded so every row's candidates start in the same column, and only the logits of the
candidate columns are computed (``logits_to_keep``), not the prompt's.

The score of a candidate is the **sum** of its tokens' log-probabilities: the log-probability
that the student writes exactly this head. It is not length-normalised: the head is what the
student must produce, and dividing by its length would favour labels split into more tokens.
Probabilities are the softmax of these scores over the label set.

**Generation.** Greedy decoding (left-padded batches) for the explanation after a chosen
label, and for free generation of ``label<think>...`` that :func:`parse_generation` reads back
(parity check against scoring).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch

from spokenemo.models.causal_lm import autocast
from spokenemo.systems.aecotd.tokens import THINK_CLOSE, THINK_OPEN


def packed_batch(prompts: Sequence[Sequence[int]], candidates: Sequence[Sequence[int]], pad_id: int,
                 mask_dtype: torch.dtype = torch.bool, prefix_len: int = 0) -> dict[str, torch.Tensor]:
    """Tensors of one packed scoring batch (see the module docstring).

    ``prefix_len`` > 0 means the prompts continue a shared prefix of that many tokens that is
    already in the model's cache: positions start after it, and the mask gets ``prefix_len``
    leading key columns that every token may attend to.

    Returns
    -------
    dict with ``input_ids`` (B, L), ``position_ids`` (B, L), ``attention_mask`` (B, 1, L,
    prefix_len + L:
    boolean, True where attention is allowed, for SDPA; with a floating ``mask_dtype``,
    additive, 0 where allowed and the dtype's minimum elsewhere, for eager attention) and
    ``prompt_width`` (the common column where candidates start).
    """
    if not prompts or not candidates:
        raise ValueError("need at least one prompt and one candidate")
    if any(len(c) == 0 for c in candidates) or any(len(p) == 0 for p in prompts):
        raise ValueError("prompts and candidates must be non-empty")
    width = max(len(p) for p in prompts)
    cand_ids = [t for c in candidates for t in c]
    cand_pos = [k for c in candidates for k in range(len(c))]
    cand_block = [j + 1 for j, c in enumerate(candidates) for _ in c]
    n_rows, length = len(prompts), width + len(cand_ids)
    ids = torch.full((n_rows, length), pad_id, dtype=torch.long)
    pos = torch.zeros((n_rows, length), dtype=torch.long)
    block = torch.full((n_rows, length), -1, dtype=torch.long)  # -1 pad, 0 prompt, j candidate j
    tail_ids, tail_pos, tail_block = torch.tensor(cand_ids), torch.tensor(cand_pos), torch.tensor(cand_block)
    for i, p in enumerate(prompts):
        start = width - len(p)
        ids[i, start:width] = torch.tensor(list(p))
        pos[i, start:width] = torch.arange(len(p)) + prefix_len
        block[i, start:width] = 0
        ids[i, width:] = tail_ids
        pos[i, width:] = tail_pos + len(p) + prefix_len
        block[i, width:] = tail_block
    col = torch.arange(length)
    causal = col[None, :] <= col[:, None]
    bq, bk = block[:, :, None], block[:, None, :]
    allowed = causal[None] & (bk >= 0) & ((bk == 0) | (bk == bq)) & (bq >= 0)
    allowed |= torch.eye(length, dtype=torch.bool)[None]  # padding attends to itself: no all-masked row
    if prefix_len:
        allowed = torch.cat([torch.ones((n_rows, length, prefix_len), dtype=torch.bool), allowed], dim=2)
    if mask_dtype == torch.bool:
        mask = allowed[:, None]
    else:
        mask = torch.zeros((n_rows, 1, length, prefix_len + length), dtype=mask_dtype)
        mask.masked_fill_(~allowed[:, None], torch.finfo(mask_dtype).min)
    return {"input_ids": ids, "position_ids": pos, "attention_mask": mask, "prompt_width": torch.tensor(width)}


def _target_columns(candidates: Sequence[Sequence[int]], width: int) -> tuple[list[list[int]], list[int]]:
    """For each candidate, the row columns whose logits predict its tokens; and the kept columns."""
    cols, offset = [], width
    for c in candidates:
        # token 0 is predicted by the last prompt column, token k by the candidate's own token k-1
        cols.append([width - 1] + [offset + k - 1 for k in range(1, len(c))])
        offset += len(c)
    keep = sorted({x for cs in cols for x in cs})
    return cols, keep


def common_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all prompts share, leaving at least one own token to each."""
    limit = min(len(p) for p in prompts) - 1
    n = 0
    while n < limit and all(p[n] == prompts[0][n] for p in prompts):
        n += 1
    return n


@torch.no_grad()
def score_candidates(model: Any, prompts: Sequence[Sequence[int]], candidates: Sequence[Sequence[int]], *,
                     pad_id: int, device: Any = "cpu", bf16: bool = False, share_prefix: bool = True) -> torch.Tensor:
    """Summed log-probability of every candidate after every prompt, in one forward pass.

    Parameters
    ----------
    model : causal LM (transformers or peft)
    prompts : sequence of token-id sequences
        One per utterance (a batch).
    candidates : sequence of token-id sequences
        The candidate heads, shared by all prompts.
    pad_id : int
    device : torch device
    bf16 : bool
        Run under bf16 autocast (log-probabilities are taken in fp32).
    share_prefix : bool
        Compute the prefix all prompts of the batch share (system message and chat markup, a
        quarter of a student prompt) once, and let every row read it from the cache.

    Returns
    -------
    Tensor, shape (len(prompts), len(candidates)), float32.
    """
    impl = getattr(getattr(model, "config", None), "_attn_implementation", "sdpa")
    mask_dtype = torch.bool if impl != "eager" else (torch.bfloat16 if bf16 else next(model.parameters()).dtype)
    prefix = common_prefix_length(prompts) if share_prefix and len(prompts) > 1 else 0
    cache = None
    if prefix:
        with autocast(bf16, device):
            cache = model(input_ids=torch.tensor([list(prompts[0][:prefix])], device=device),
                          use_cache=True).past_key_values
        cache.batch_repeat_interleave(len(prompts))
        prompts = [p[prefix:] for p in prompts]
    batch = packed_batch(prompts, candidates, pad_id, mask_dtype, prefix_len=prefix)
    width = int(batch["prompt_width"])
    cols, keep = _target_columns(candidates, width)
    index = {c: i for i, c in enumerate(keep)}
    with autocast(bf16, device):
        out = model(input_ids=batch["input_ids"].to(device), position_ids=batch["position_ids"].to(device),
                    attention_mask=batch["attention_mask"].to(device), logits_to_keep=torch.tensor(keep, device=device),
                    past_key_values=cache, use_cache=cache is not None)
    logp = torch.log_softmax(out.logits.float(), dim=-1)  # (B, len(keep), V)
    scores = torch.zeros((len(prompts), len(candidates)), dtype=torch.float32, device=logp.device)
    for j, (c, cs) in enumerate(zip(candidates, cols, strict=True)):
        rows = logp[:, [index[x] for x in cs], :]
        scores[:, j] = rows.gather(-1, torch.tensor(list(c), device=logp.device)[None, :, None].expand(
            len(prompts), -1, 1)).squeeze(-1).sum(-1)
    return scores.cpu()


@torch.no_grad()
def generate(model: Any, tokenizer: Any, inputs: Sequence[Sequence[int]], *, max_new_tokens: int,
             stop_strings: Sequence[str] = (), eos_ids: Sequence[int] = (), device: Any = "cpu",
             bf16: bool = False) -> list[list[int]]:
    """Greedy continuations of a left-padded batch; returns the new token ids of each input.

    Generation of a row stops at one of ``eos_ids`` (kept in the output) or once its text
    contains one of ``stop_strings``, or after ``max_new_tokens``.
    """
    if not inputs:
        return []
    pad_id = tokenizer.pad_token_id
    width = max(len(x) for x in inputs)
    ids = torch.full((len(inputs), width), pad_id, dtype=torch.long)
    att = torch.zeros((len(inputs), width), dtype=torch.long)
    for i, x in enumerate(inputs):
        ids[i, width - len(x):] = torch.tensor(list(x))
        att[i, width - len(x):] = 1
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": False, "pad_token_id": pad_id,
                              "eos_token_id": list(eos_ids) or None, "temperature": None, "top_p": None,
                              "top_k": None}
    if stop_strings:
        kwargs.update(stop_strings=list(stop_strings), tokenizer=tokenizer)
    with autocast(bf16, device):
        out = model.generate(input_ids=ids.to(device), attention_mask=att.to(device), **kwargs)
    new = out[:, width:].cpu().tolist()
    result = []
    for row in new:
        # drop the padding generate adds after a row has finished
        while row and row[-1] == pad_id and pad_id not in eos_ids:
            row.pop()
        result.append(row)
    return result


def _clean_label(text: str) -> str:
    return " ".join(text.strip().strip(".:;,!\"'*").casefold().split())


def parse_generation(text: str, labels: Sequence[str], *, cot: bool = True) -> tuple[str | None, str | None]:
    """Read ``label<think>reasoning</think>`` (or a bare label without chain of thought).

    Returns
    -------
    label : str or None
        A member of ``labels`` (compared case-insensitively, surrounding punctuation ignored),
        or None when the text does not start with one (an unparseable output).
    reasoning : str or None
        The text between ``<think>`` and ``</think>`` (or the end), when present.
    """
    known = {_clean_label(lab): lab for lab in labels}
    if cot:
        m = re.match(rf"(.*?){re.escape(THINK_OPEN)}(.*?)(?:{re.escape(THINK_CLOSE)}|$)", text, flags=re.S)
        if m is None:
            return None, None
        return known.get(_clean_label(m.group(1))), m.group(2).strip()
    return known.get(_clean_label(text)), None
