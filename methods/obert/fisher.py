"""Block-diagonal inverse empirical Fisher, built one gradient at a time, and the OBS update.

F = λI + (1/m) Σ_k g_k g_kᵀ, restricted to blocks of B consecutive weights (the flattened weight
matrix is cut into blocks; the last one is padded). Its inverse is kept directly and updated with
each gradient by the Sherman-Morrison formula, starting from I/λ:

    F_k⁻¹ = F_{k-1}⁻¹ - (F_{k-1}⁻¹ g)(F_{k-1}⁻¹ g)ᵀ / (m + gᵀ F_{k-1}⁻¹ g)

so no gradient is stored and no matrix is inverted. Memory: B floats per weight.
"""

from __future__ import annotations

import math

import torch


class BlockFisherInverse:
    def __init__(self, numel: int, block_size: int, damp: float, device: torch.device | str = "cpu") -> None:
        if block_size < 1 or damp <= 0.0:
            raise ValueError(f"block_size must be >= 1 and damp > 0, got {block_size}, {damp}")
        self.numel, self.block_size, self.damp = numel, block_size, damp
        self.blocks = math.ceil(numel / block_size)
        self.inverse = torch.empty(self.blocks, block_size, block_size, device=device)
        self.reset(1)

    def reset(self, expected_gradients: int) -> None:
        """Start a new estimate from I/λ, for `expected_gradients` gradients (the m of 1/m)."""
        if expected_gradients < 1:
            raise ValueError(f"expected_gradients must be >= 1, got {expected_gradients}")
        self.m = expected_gradients
        self.seen = 0
        self.inverse.zero_()
        self.inverse.diagonal(dim1=1, dim2=2).fill_(1.0 / self.damp)

    def _blocked(self, flat: torch.Tensor) -> torch.Tensor:
        padded = torch.zeros(self.blocks * self.block_size, dtype=self.inverse.dtype, device=self.inverse.device)
        padded[: self.numel] = flat.reshape(-1).to(self.inverse.dtype)
        return padded.view(self.blocks, self.block_size)

    @torch.no_grad()
    def add_gradient(self, gradient: torch.Tensor) -> None:
        g = self._blocked(gradient)
        u = torch.bmm(self.inverse, g.unsqueeze(2)).squeeze(2)  # F⁻¹ g per block
        denominator = self.m + (g * u).sum(dim=1)  # m + gᵀ F⁻¹ g > 0: F⁻¹ is positive definite
        v = u / denominator.sqrt().unsqueeze(1)
        self.inverse.baddbmm_(v.unsqueeze(2), v.unsqueeze(1), alpha=-1.0)  # F⁻¹ -= v vᵀ, in place
        self.seen += 1

    def diagonal(self) -> torch.Tensor:
        """[F⁻¹]_ii for every weight, flattened like the weight."""
        return self.inverse.diagonal(dim1=1, dim2=2).reshape(-1)[: self.numel]

    def saliency(self, weight: torch.Tensor) -> torch.Tensor:
        """ρ_i = w_i² / (2 [F⁻¹]_ii): the loss increase (to second order) of removing w_i alone and
        letting the other weights of its block compensate. Shaped like `weight`."""
        flat = weight.detach().reshape(-1).to(self.inverse.dtype)
        return (flat.square() / (2.0 * self.diagonal())).view_as(weight)

    @torch.no_grad()
    def removal_update(self, weight: torch.Tensor, remove: torch.Tensor) -> torch.Tensor:
        """The weights after removing the `remove` ones together (OBS, per block):
        δw = -F⁻¹ E_Qᵀ (E_Q F⁻¹ E_Qᵀ)⁻¹ E_Q w, so the removed weights become exactly 0 and the rest of
        each block compensates. Blocks share one batched solve: outside Q the system is the identity."""
        w = self._blocked(weight)
        q = self._blocked(remove.to(self.inverse.dtype))  # 1 where removed
        keep_rows = 1.0 - q
        system = self.inverse * q.unsqueeze(2) * q.unsqueeze(1) + torch.diag_embed(keep_rows)
        x = torch.linalg.solve(system, (w * q).unsqueeze(2))  # (F⁻¹_QQ)⁻¹ w_Q on Q, 0 elsewhere
        updated = w - torch.bmm(self.inverse, x).squeeze(2)
        updated = updated * keep_rows  # exact zeros where removed (the solve leaves ~1e-7)
        return updated.reshape(-1)[: self.numel].view_as(weight).to(weight.dtype)
