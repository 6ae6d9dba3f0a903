"""Collectives for losses over the global batch under DDP, for decisions all ranks take together (stops,
checkpoints, RNG streams), the non-finite-loss watch, and the DDP wrapping choice.

Everything here is the identity (or a no-op) when ``torch.distributed`` is not initialised or has one rank, so
single-process training, the tests and the audit run the same code.

Gradient scale (checked numerically in tests/engine/test_global_batch.py). DDP *averages* parameter gradients
over the W ranks. A batch-level loss L (symmetric CLIP, DM/CDM, metric losses, a balance loss f.P) is computed
identically on every rank from the gathered global batch X = [x_1; ...; x_W]. Backward through
:func:`gather_with_grad` all-reduces (sums) dL/dX over the ranks, so rank r's shard receives W * dL/dx_r, and
after DDP's 1/W mean the parameters get sum_r dL/dx_r dx_r/dtheta = dL/dtheta: the gradient of the 1-worker
loss on the global batch. Inputs replicated on every rank (text prototypes, logit_scale) get dL/dtheta on
each rank and the same after the mean. Per-sample means (cross-entropy, router z-loss, ATR depth/gate CE)
need nothing: the mean over ranks of per-rank means is the global mean when the shards are equal, which
the step sampler guarantees (``data.batch_size // world_size`` samples on every rank).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from pad_core.config.schema import RunCfg


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def any_rank(flag: bool, device: torch.device | str = "cpu") -> bool:
    """True on every rank if it is true on any rank. Decisions that end the loop or write a checkpoint must be
    taken by all ranks together, or one rank waits forever in a collective the others never enter."""
    if not active():
        return flag
    where = device if dist.get_backend() == "nccl" else "cpu"  # NCCL reduces CUDA tensors; gloo CPU ones
    value = torch.tensor([1.0 if flag else 0.0], device=where)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's picklable ``obj`` in rank order (one element without a process group)."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _rank() -> int:
    return dist.get_rank() if world_size() > 1 else 0


class _GatherWithGrad(torch.autograd.Function):
    """all_gather along dim 0; backward all-reduces the full gradient and returns this rank's rows.

    An all-reduce instead of a reduce-scatter: gloo has no reduce-scatter, and the gathered tensors are
    b x features (kilobytes), so the W-fold traffic costs nothing measurable.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows, ctx.rank = x.shape[0], dist.get_rank()
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every rank computed the same L: the sum is W * dL/dX (see the module note)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


class _AllReduceSum(torch.autograd.Function):
    """Differentiable all-reduce (sum); backward sums the gradient over ranks (same W scale as the gather)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = x.contiguous().clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``b ...`` -> ``(W b) ...``: the global batch in rank order, gradient flowing back to the local rows.

    Every rank must call it with the same shape (equal shards) and in the same order (same config).
    """
    return _GatherWithGrad.apply(x) if world_size() > 1 else x


def gather(x: torch.Tensor) -> torch.Tensor:
    """Gather without autograd (labels, indices): ``b ...`` -> ``(W b) ...``."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def global_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over dim 0 of the rows of every rank (rank shards may differ in length, e.g. valid text tokens).

    For a model-side batch statistic such as the Switch balance loss N * sum_i f_i P_i, whose product of
    two batch means is not the mean of per-rank products: f = global_mean(one_hot), P = global_mean(probs).
    """
    if world_size() == 1:
        return x.mean(dim=0)
    count = torch.tensor([float(x.shape[0])], device=x.device)
    dist.all_reduce(count)
    return _AllReduceSum.apply(x.sum(dim=0)) / count.to(x.dtype)


class FiniteWatch:
    """Remembers, on the device, the first step whose loss was not finite; :meth:`check` reads it.

    ``if not torch.isfinite(loss)`` every step is a host sync that stalls the launch queue; here each step
    adds a few device ops, and the host reads one flag every few steps. ``check`` all-reduces the flag so
    a NaN on one rank stops every rank at the same step (no rank waits alone in the next collective).
    """

    every = 50  # steps between checks besides the window closes: a NaN wastes at most this many steps

    def __init__(self, first_step: int) -> None:
        self.first_step = first_step  # state.step before the first watched step
        self.count: torch.Tensor | None = None  # steps watched, on the device (no host-to-device copy per step)
        self.bad: torch.Tensor | None = None  # 1-based index of the first non-finite step, 0 = none yet
        self.names: list[str] = []
        self.values: torch.Tensor | None = None  # the terms of the first non-finite step

    def update(self, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        values = torch.stack([v.detach().float().reshape(()) for v in terms.values()])
        if self.count is None:
            self.count = torch.zeros((), dtype=torch.long, device=loss.device)
            self.bad = torch.zeros_like(self.count)
        if list(terms) != self.names:  # the first step (term names are fixed by the config)
            self.names, self.values = list(terms), torch.full_like(values, float("nan"))
        self.count += 1
        first = (self.bad == 0) & ~torch.isfinite(loss.detach())
        self.bad = torch.where(first, self.count, self.bad)
        self.values = torch.where(first, values, self.values)

    def check(self) -> str | None:
        """None while every rank's loss was finite, else the message of the earliest bad step (all ranks)."""
        if self.bad is None:
            return None
        w, rank = world_size(), _rank()
        never = torch.iinfo(torch.long).max
        key = torch.where(self.bad > 0, (self.bad + self.first_step) * w + rank, never)
        if w > 1:
            key = key if dist.get_backend() == "nccl" else key.cpu()  # gloo reduces CPU tensors
            dist.all_reduce(key, op=dist.ReduceOp.MIN)
        key_value = int(key)  # the host sync, once per check
        if key_value == never:
            return None
        step, src = divmod(key_value, w)
        message = [self._message(step) if rank == src else ""]
        if w > 1:
            dist.broadcast_object_list(message, src=src)
            message[0] += f" [rank {src} of {w}]"
        return message[0]

    def _message(self, step: int) -> str:
        values = dict(zip(self.names, self.values.tolist()))
        return f"loss is {values.get('loss', float('nan'))} at step {step} (terms {values})"


# Model families whose every trainable parameter enters the autograd graph of every training step: DDP can
# then skip find_unused_parameters' graph walk each step. Why each is dense:
#  - clip: SoftMoE and MoAE send every slot to every expert; SUE's routed experts are one batched parameter
#    per tensor and the zero-padded dispatch buffer runs all of them every step, so an expert with no tokens
#    still gets a (zero) gradient; frozen towers are not trainable, hence not DDP's concern.
#  - bigmoe: PEER retrieves rows of nn.Embedding tables (the table is one parameter), the FFN experts sit under
#    a dense softmax gate, the blocks whose outputs cannot reach the logits carry no IGMA/CPB.
#  - atr: every depth expert and the gate run on every sample.
# Losses keep it so: a batch loss skipped on a one-class batch still reads its features (losses/composite.py),
# which FLIP-V's projection, trainable only for those losses, relies on. tests/engine/test_global_batch.py checks
# both (routed SUE with experts that receive no tokens; FLIP-V + class regularisation on a one-class batch).
DENSE_FAMILIES = frozenset({"clip", "bigmoe", "atr"})


def find_unused_parameters(cfg: RunCfg) -> bool:
    """Whether DDP must look for parameters without gradient each step (True for any family not audited)."""
    return cfg.family not in DENSE_FAMILIES
