"""The MiSTER-E gate: per-turn weights of the three experts (thesis Eqs. 4.18-4.19).

- ``thesis``: ``g = FC([y^s ; y^t ; y^m])``, ``beta = softmax(g)``;
- ``mlp`` (the public code): ``g = FC(ReLU(FC_10([y^s ; y^t ; y^m])))``, ``beta = softmax(g / 2)``.

The input is the experts' logits (or, for the feat-MoE ablation, their representations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

GateKind = Literal["thesis", "mlp"]
GATE_KINDS: tuple[str, ...] = ("thesis", "mlp")


class Gate(nn.Module):
    """Softmax weights over ``n_experts`` from the concatenation of their outputs.

    Parameters
    ----------
    dim_in : int
        Size of one expert's output (classes for logits).
    n_experts : int
    kind : {"thesis", "mlp"}
    hidden : int
        Hidden size of the ``mlp`` gate (public code 10).
    temperature : float
        Softmax temperature (``thesis`` 1; the public code's ``mlp`` 2).
    """

    def __init__(self, dim_in: int, n_experts: int = 3, *, kind: GateKind = "thesis", hidden: int = 10,
                 temperature: float | None = None) -> None:
        super().__init__()
        if kind not in GATE_KINDS:
            raise ValueError(f"gate must be one of {GATE_KINDS}, got {kind!r}")
        if kind == "thesis":
            self.net: nn.Module = nn.Linear(dim_in * n_experts, n_experts)
        else:
            self.net = nn.Sequential(nn.Linear(dim_in * n_experts, hidden), nn.ReLU(), nn.Linear(hidden, n_experts))
        self.temperature = float(temperature if temperature is not None else (1.0 if kind == "thesis" else 2.0))
        self.kind = kind

    def forward(self, outputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``outputs``: one (..., dim_in) tensor per expert -> weights (..., n_experts), rows sum to 1."""
        return torch.softmax(self.net(torch.cat(list(outputs), dim=-1)) / self.temperature, dim=-1)


def mix(outputs: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """``sum_e weights[..., e] * outputs[e]``."""
    return (torch.stack(list(outputs), dim=-2) * weights.unsqueeze(-1)).sum(dim=-2)
