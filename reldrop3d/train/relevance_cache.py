"""Reuse of per-sample relevance maps across epochs (``--relevance-every K``).

RelDrop's cost is its relevance pass. In the official order the relevance is computed on the
*un-augmented* batch, which is the same for a sample in every epoch (the data sets sample their
points once), so a sample's relevance map can be kept and reused for ``K`` epochs: the mask is
still drawn fresh every step (a new ``u``), only ``R`` is up to ``K - 1`` epochs old.

A map is served only for the exact input it was computed on: the cache is keyed by the sample
index (``batch["index"]``) and validated by a fingerprint of the explained input's bits in their
point order, plus everything else the relevance depends on (target, category); a map is valid
for ``K`` epochs after the epoch it was computed in (``0 <= epoch - built < K``), then recomputed
in the step that meets the sample next. So a point order or a sample that changed (a data set
that resamples points, a shuffled cloud, another data set after a resume) is recomputed, never
served another sample's or another order's relevance.

Where it lives: on the device of the relevance (the training device; ``num_samples x points x 4``
bytes, e.g. 40 MB for ModelNet40 at 1,024 points), or in pinned host memory (``pin_memory=True``,
or automatically on a CUDA device when the storage would exceed ``max_device_bytes``, 1 GiB by
default; rows are copied to the device on use). Under DDP every rank keeps the whole cache:
:meth:`RelevanceCache.sync`, called once per step on every rank, all-gathers the maps the ranks
computed in that step (the training sampler deals samples to other ranks every epoch, so a
rank-local cache would mostly miss; the indices are global, so a map is never served for another
sample whatever the sharding). :meth:`~RelevanceCache.state_dict` can save the maps; training
(:class:`reldrop3d.train.input_dropout.InputDropout`) does not: a resumed run starts with an empty
cache and rebuilds it in its first epoch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
_HEADER = 6  # count, dtype code, up to 4 sample dims (-1 = unused)
_weights: dict[tuple[int, str], torch.Tensor] = {}


def _hash_weights(length: int, device: torch.device) -> torch.Tensor:
    """(2, length) odd int64 weights, the same in every process (fixed seed)."""
    key = (length, str(device))
    if key not in _weights:
        g = torch.Generator().manual_seed(0x5EED_CAC4E)
        w = torch.randint(-(2**62), 2**62, (2, length), generator=g, dtype=torch.int64) * 2 + 1
        _weights[key] = w.to(device)
    return _weights[key]


def sample_fingerprint(*tensors: torch.Tensor) -> torch.Tensor:
    """An exact hash of each sample's values, in their order: LongTensor (B, 2).

    Parameters
    ----------
    *tensors : Tensor (B, ...)
        Per-sample data (e.g. points (B, N, C), target (B,) or (B, N)); the bits of every value
        enter the hash with a weight that depends on its position, so two samples get the same
        fingerprint only if they hold bit-identical values in the same order (up to a 2^-128
        chance).

    Returns
    -------
    LongTensor (B, 2), on the device of the first tensor. Integer arithmetic (wrapping), so the
    result does not depend on the reduction order, the batch it was computed in or the device.
    """
    if not tensors:
        raise ValueError("sample_fingerprint needs at least one tensor")
    b = tensors[0].shape[0]
    device = tensors[0].device
    cols = []
    for t in tensors:
        if t.shape[:1] != (b,):
            raise ValueError(f"all tensors must have the batch size {b}, got {tuple(t.shape)}")
        flat = t.detach().reshape(b, -1).contiguous()
        if flat.dtype == torch.bool:
            flat = flat.to(torch.uint8)
        if flat.is_floating_point():
            flat = flat.view(_INT_OF_SIZE[flat.element_size()])
        cols.append(flat.to(device=device, dtype=torch.int64))
    v = torch.cat(cols, 1)
    w = _hash_weights(v.shape[1], device)
    mixed = v ^ (v >> 17)  # second hash sees the bits differently
    return torch.stack([(v * w[0]).sum(1), (mixed * w[1]).sum(1)], 1)


class RelevanceCache:
    """Per-sample relevance maps, each reused for ``every`` epochs.

    Parameters
    ----------
    every : int >= 1
        ``K``: a map computed in epoch ``e`` is served in epochs ``e .. e + K - 1`` (``K = 1``
        recomputes every epoch, as without a cache).
    num_samples : int, optional
        Size of the data set (the indices are ``0 .. num_samples - 1``); storage grows on demand
        without it.
    pin_memory : bool
        Keep the maps in pinned host memory instead of on the training device (CUDA only; on a
        CPU run both are host memory).
    max_device_bytes : int, optional
        On a CUDA device, storage larger than this goes to pinned host memory instead (None: no
        limit).

    Attributes
    ----------
    hits, misses : int
        Samples served from the cache / computed since :meth:`take_counts`.
    mismatches : int
        Samples whose index held a map that was still valid but for other input bits (another
        point order or other points: a data set that re-samples points per access); they are
        recomputed.

    Examples
    --------
    >>> cache = RelevanceCache(every=4, num_samples=len(train_set))
    >>> R = cache.relevance(batch["index"], points, epoch, lambda rows: relevance(model, points[rows], y[rows]),
    ...                     keys=(y,))
    >>> cache.sync()  # once per step on every rank (DDP)
    """

    def __init__(self, every: int, num_samples: int | None = None, pin_memory: bool = False,
                 max_device_bytes: int | None = 1 << 30):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every (relevance reuse period in epochs) must be an int >= 1, got {every!r}")
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples < 0):
            raise ValueError(f"num_samples must be a non-negative int, got {num_samples!r}")
        self.every = every
        self.pin_memory = bool(pin_memory)
        self._capacity_hint = num_samples or 0
        self._rel: torch.Tensor | None = None  # (capacity, *sample_shape)
        self._fp: torch.Tensor | None = None  # (capacity, 2) int64
        self._built: torch.Tensor | None = None  # (capacity,) int64, -1 = empty
        self._pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]] = []
        self.max_device_bytes = max_device_bytes
        self.hits = 0
        self.misses = 0
        self.mismatches = 0

    # -- storage --------------------------------------------------------------------------
    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        return None if self._rel is None else tuple(self._rel.shape[1:])

    def __len__(self) -> int:
        """Number of samples holding a map."""
        return 0 if self._built is None else int((self._built >= 0).sum())

    def _storage_device(self, device: torch.device) -> torch.device:
        return torch.device("cpu") if self.pin_memory else device

    def _allocate(self, capacity: int, shape: tuple[int, ...], dtype: torch.dtype,
                  device: torch.device) -> None:
        pin = self.pin_memory and device.type == "cpu" and torch.cuda.is_available()
        rel = torch.zeros((capacity, *shape), dtype=dtype, device=device)
        fp = torch.zeros(capacity, 2, dtype=torch.int64, device=device)
        built = torch.full((capacity,), -1, dtype=torch.int64, device=device)
        if self._rel is not None:  # grow: keep what is there
            n = self._rel.shape[0]
            rel[:n], fp[:n], built[:n] = self._rel.to(device), self._fp.to(device), self._built.to(device)
        if pin:
            rel, fp, built = rel.pin_memory(), fp.pin_memory(), built.pin_memory()
        self._rel, self._fp, self._built = rel, fp, built

    def _ensure(self, max_index: int, shape: tuple[int, ...], dtype: torch.dtype,
                device: torch.device) -> None:
        """Storage for indices up to ``max_index`` holding maps of ``shape`` on ``device``."""
        if self._rel is None and device.type == "cuda" and not self.pin_memory \
                and self.max_device_bytes is not None:
            capacity = max(max_index + 1, self._capacity_hint)
            nbytes = capacity * math.prod(shape) * torch.empty((), dtype=dtype).element_size()
            if nbytes > self.max_device_bytes:
                log.info("relevance cache: %.1f GiB > max_device_bytes; kept in pinned host memory",
                         nbytes / 2**30)
                self.pin_memory = True
        dev = self._storage_device(device)
        if self._rel is not None and self.sample_shape != shape:
            log.warning("relevance cache: maps of shape %s replace cached maps of shape %s; "
                        "cache cleared", shape, self.sample_shape)
            self.clear()
        if self._rel is None:
            self._allocate(max(max_index + 1, self._capacity_hint), shape, dtype, dev)
            return
        if self._rel.device != dev:
            self._rel, self._fp, self._built = self._rel.to(dev), self._fp.to(dev), self._built.to(dev)
        if max_index >= self._rel.shape[0]:
            self._allocate(max(max_index + 1, 2 * self._rel.shape[0]), shape, self._rel.dtype, dev)

    def clear(self) -> None:
        """Forget every map."""
        self._rel = self._fp = self._built = None
        self._pending.clear()

    def _store(self, index: torch.Tensor, fp: torch.Tensor, rel: torch.Tensor, epoch: int) -> None:
        dev = self._rel.device
        index = index.to(dev)
        self._rel[index] = rel.detach().to(device=dev, dtype=self._rel.dtype)
        self._fp[index] = fp.to(dev)
        self._built[index] = epoch

    # -- the step -------------------------------------------------------------------------
    def valid(self, index: torch.Tensor, fp: torch.Tensor, epoch: int) -> torch.Tensor:
        """BoolTensor (B,) on ``fp``'s device: which samples have a map for exactly this input
        that is still valid in ``epoch``."""
        if self._rel is None:
            return torch.zeros(index.shape[0], dtype=torch.bool, device=fp.device)
        dev = self._rel.device
        idx = index.to(dev)
        inside = idx < self._rel.shape[0]
        safe = torch.where(inside, idx, torch.zeros_like(idx))
        built = self._built[safe]
        age = epoch - built
        ok = inside & (built >= 0) & (age >= 0) & (age < self.every)
        same = (self._fp[safe] == fp.to(dev)).all(1)
        self.mismatches += int((ok & ~same).sum())
        return (ok & same).to(fp.device)

    def relevance(
        self,
        index: torch.Tensor,
        inputs: torch.Tensor,
        epoch: int,
        compute: Callable[[torch.Tensor], torch.Tensor],
        keys: Sequence[torch.Tensor | None] = (),
    ) -> torch.Tensor:
        """The relevance of every sample of ``inputs``: cached where valid, computed otherwise.

        Parameters
        ----------
        index : LongTensor (B,)
            Data-set index of each sample (``batch["index"]``).
        inputs : Tensor (B, ...)
            Exactly what is explained (its bits and point order are fingerprinted).
        epoch : int
            The current training epoch.
        compute : callable
            ``compute(rows)`` returns the relevance of ``inputs[rows]`` for a LongTensor ``rows``
            of positions in this batch (all of them when nothing is cached).
        keys : sequence of Tensor (B, ...) or None
            Everything else the relevance depends on (target, category); part of the fingerprint.

        Returns
        -------
        Tensor (B, ...): ``compute``'s result as is when every sample is computed (so the epoch
        that builds the cache gives the fresh path's relevance bit for bit).
        """
        index = torch.as_tensor(index).reshape(-1)
        b = inputs.shape[0]
        if index.shape[0] != b:
            raise ValueError(f"index has {index.shape[0]} entries for a batch of {b} samples")
        if b and int(index.min()) < 0:
            raise ValueError(f"sample indices must be >= 0, got {int(index.min())}")
        fp = sample_fingerprint(inputs, *[k for k in keys if k is not None])
        hit = self.valid(index, fp, epoch)
        miss_rows = (~hit).nonzero().flatten()
        n_hit = b - miss_rows.numel()
        self.hits += n_hit
        self.misses += miss_rows.numel()
        if n_hit == b and b:
            return self._rel[index.to(self._rel.device)].to(inputs.device, non_blocking=True)
        fresh = compute(miss_rows)
        if fresh.shape[0] != miss_rows.numel():
            raise ValueError(f"compute returned {fresh.shape[0]} maps for {miss_rows.numel()} samples")
        if miss_rows.numel() == 0:
            return fresh
        shape = tuple(fresh.shape[1:])
        self._ensure(int(index.max()), shape, fresh.dtype, fresh.device)
        idx_miss = index.to(miss_rows.device)[miss_rows]
        self._store(idx_miss, fp[miss_rows], fresh, epoch)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            self._pending.append((idx_miss, fp[miss_rows], fresh.detach(), epoch))  # for sync()
        if n_hit == 0:
            return fresh
        out = torch.empty((b, *shape), dtype=fresh.dtype, device=fresh.device)
        out[miss_rows] = fresh
        hit_rows = hit.nonzero().flatten()
        out[hit_rows] = self._rel[index.to(self._rel.device)[hit_rows.to(self._rel.device)]].to(
            device=out.device, dtype=out.dtype)
        return out

    def wrap(
        self,
        explain: Callable[[torch.Tensor], torch.Tensor],
        index: torch.Tensor,
        inputs: torch.Tensor,
        epoch: int,
        keys: Sequence[torch.Tensor | None] = (),
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """``explain(idx)`` (the relevance of ``inputs[idx]``, as :func:`reldrop3d.masking.mask_batch`
        calls it) answered from the cache where valid; ``index``, ``keys`` as in
        :meth:`relevance`, for the whole batch."""
        index = torch.as_tensor(index).reshape(-1)

        def cached(idx: torch.Tensor) -> torch.Tensor:
            i = idx.to(index.device)
            return self.relevance(index[i], inputs[idx], epoch, lambda rows: explain(idx[rows.to(idx.device)]),
                                  keys=[k[idx] for k in keys if k is not None])

        return cached

    def take_counts(self) -> tuple[int, int]:
        """(hits, misses) since the last call; resets them."""
        out = (self.hits, self.misses)
        self.hits = self.misses = 0
        return out

    # -- several processes ------------------------------------------------------------------
    def sync(self) -> None:
        """Share the maps computed in this step with the other ranks (DDP).

        Call once per training step on **every** rank (it is a collective: ranks that computed
        nothing still take part). A no-op without an initialised process group of several
        ranks.
        """
        pending, self._pending = self._pending, []
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        world, rank = dist.get_world_size(), dist.get_rank()
        dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" \
            else torch.device("cpu")
        if pending:
            idx = torch.cat([p[0] for p in pending]).to(dev)
            fp = torch.cat([p[1] for p in pending]).to(dev)
            rel = torch.cat([p[2] for p in pending]).to(dev)
            epochs = torch.cat([torch.full((p[0].numel(),), p[3], dtype=torch.int64) for p in pending]).to(dev)
        header = torch.full((_HEADER,), -1, dtype=torch.int64, device=dev)
        header[0] = idx.numel() if pending else 0
        if pending:
            if rel.dtype not in _DTYPES or rel.dim() - 1 > _HEADER - 2:
                raise ValueError(f"cannot share relevance maps of dtype {rel.dtype} and shape "
                                 f"{tuple(rel.shape[1:])}")
            header[1] = _DTYPES.index(rel.dtype)
            header[2:2 + rel.dim() - 1] = torch.tensor(rel.shape[1:], dtype=torch.int64)
        headers = [torch.empty_like(header) for _ in range(world)]
        dist.all_gather(headers, header)
        headers = torch.stack(headers).cpu()
        counts = headers[:, 0]
        n_max = int(counts.max())
        if n_max == 0:
            return
        src = int(counts.argmax())
        dtype = _DTYPES[int(headers[src, 1])]
        shape = tuple(int(d) for d in headers[src, 2:] if d >= 0)
        meta = torch.zeros(n_max, 4, dtype=torch.int64, device=dev)
        maps = torch.zeros((n_max, *shape), dtype=dtype, device=dev)
        if pending:
            n = idx.numel()
            meta[:n, 0], meta[:n, 1:3], meta[:n, 3] = idx, fp, epochs
            maps[:n] = rel.to(dtype)
        metas = [torch.empty_like(meta) for _ in range(world)]
        all_maps = [torch.empty_like(maps) for _ in range(world)]
        dist.all_gather(metas, meta)
        dist.all_gather(all_maps, maps)
        for r in range(world):
            n = int(counts[r])
            if r == rank or n == 0:
                continue
            m = metas[r][:n]
            self._ensure(int(m[:, 0].max()), shape, dtype,
                         all_maps[r].device if self._rel is None else self._rel.device)
            for e in m[:, 3].unique().tolist():
                sel = m[:, 3] == e
                self._store(m[sel, 0], m[sel, 1:3], all_maps[r][:n][sel], int(e))

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and ints only (loadable with ``torch.load(weights_only=True)``), on the CPU."""
        if self._rel is None:
            return {"every": self.every}
        return {"every": self.every, "relevance": self._rel.cpu(), "fingerprint": self._fp.cpu(),
                "built": self._built.cpu()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s maps. Maps are fingerprinted, so maps of another data set
        or point order are never served; a state of another ``every`` is still used (each map's
        age counts against this cache's ``every``)."""
        self.clear()
        if not isinstance(state, dict) or "every" not in state:
            raise ValueError("not a relevance-cache state (no 'every' entry)")
        if "relevance" not in state:
            return
        rel, fp, built = state.get("relevance"), state.get("fingerprint"), state.get("built")
        if not all(isinstance(t, torch.Tensor) for t in (rel, fp, built)):
            raise ValueError("relevance-cache state: 'relevance', 'fingerprint' and 'built' must be tensors")
        m = rel.shape[0]
        if rel.dim() < 2 or fp.shape != (m, 2) or built.shape != (m,) or fp.dtype != torch.int64 \
                or built.dtype != torch.int64 or rel.dtype not in _DTYPES:
            raise ValueError(f"relevance-cache state has inconsistent shapes: relevance "
                             f"{tuple(rel.shape)}, fingerprint {tuple(fp.shape)}, built {tuple(built.shape)}")
        self._rel, self._fp, self._built = rel.clone(), fp.clone(), built.clone()
