"""Samplers that make a multi-process run see the same data as a one-process run.

With ``W`` processes of per-process batch ``b`` the *global batch* is ``W * b`` samples. The
training sampler draws one shuffled order per epoch (seeded by ``seed + epoch``, identical on
every rank) and gives rank ``r`` the slice ``[r b, (r + 1) b)`` of each consecutive global batch.
So the union of the ranks' batches at step ``t`` is exactly batch ``t`` of a one-process run with
batch ``W * b``, and exactly micro-batches ``W t, ..., W t + W - 1`` of a one-process run with
batch ``b`` and ``W`` gradient-accumulation steps (the same optimiser update as DDP's gradient
mean when the model has no batch statistics).

The evaluation sampler shards the data set without padding (``torch.utils.data.DistributedSampler``
repeats samples to even out the shards, which biases metrics); metrics synchronised across ranks
then cover every sample exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def _check_shard(num_samples: int, num_replicas: int, rank: int) -> None:
    if num_samples < 1:
        raise ValueError(f"cannot sample from an empty data set (num_samples={num_samples})")
    if num_replicas < 1:
        raise ValueError(f"num_replicas must be >= 1, got {num_replicas}")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank must lie in [0, {num_replicas}), got {rank}")


class GlobalBatchSampler(Sampler[int]):
    """Per-rank slices of a shuffled order shared by all ranks (training).

    Parameters
    ----------
    num_samples : int
        Length of the data set.
    batch_size : int
        Per-process batch size ``b`` (the DataLoader's ``batch_size``).
    num_replicas, rank : int
        World size ``W`` and this process's rank.
    seed : int
        The order of epoch ``e`` is ``randperm(num_samples)`` from a generator seeded with
        ``seed + e`` (call :meth:`set_epoch`; Lightning does).
    shuffle : bool
        False: the data set order.
    drop_last : bool
        Drop the incomplete last global batch (as a shuffling DataLoader with ``drop_last``). A data
        set smaller than one global batch is repeated to fill one, so every rank takes the same
        number of steps (DDP needs that).

    Notes
    -----
    Yields ``len(self)`` indices; use with ``DataLoader(batch_size=b, sampler=..., drop_last=False)``.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        _check_shard(num_samples, num_replicas, rank)
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.num_replicas

    @property
    def num_global_batches(self) -> int:
        g = self.global_batch_size
        n = self.num_samples // g if self.drop_last else math.ceil(self.num_samples / g)
        return max(1, n)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_order(self) -> torch.Tensor:
        """The epoch's order of all samples, identical on every rank (LongTensor)."""
        if not self.shuffle:
            return torch.arange(self.num_samples)
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.num_samples, generator=g)

    def __iter__(self) -> Iterator[int]:
        order = self.global_order()
        total = self.num_global_batches * self.global_batch_size
        if total > order.numel():  # the last (partial) global batch or a tiny data set: wrap
            order = order.repeat(math.ceil(total / order.numel()))
        batches = order[:total].view(self.num_global_batches, self.num_replicas, self.batch_size)
        return iter(batches[:, self.rank].reshape(-1).tolist())

    def __len__(self) -> int:
        return self.num_global_batches * self.batch_size


class ShardSampler(Sampler[int]):
    """Rank ``r`` of ``W`` takes samples ``r, r + W, r + 2 W, ...`` in order (evaluation).

    No padding: shards differ in length by at most one, and together hold every sample once. A data
    set with fewer samples than ranks gives the ranks without a sample of their own the last sample
    (metrics then count it twice; unavoidable, every rank must take part in the evaluation loop).
    """

    def __init__(self, num_samples: int, num_replicas: int = 1, rank: int = 0):
        _check_shard(num_samples, num_replicas, rank)
        self.num_samples = num_samples
        self.num_replicas = num_replicas
        self.rank = rank

    def _indices(self) -> range:
        if self.rank >= self.num_samples:
            return range(self.num_samples - 1, self.num_samples)
        return range(self.rank, self.num_samples, self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices())

    def __len__(self) -> int:
        return len(self._indices())
