"""GlobalBatchSampler / ShardSampler: W processes see what one process sees."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from reldrop3d.train.samplers import GlobalBatchSampler, ShardSampler


def batches(num_samples, batch_size, world, rank, epoch=0, seed=3, drop_last=True):
    s = GlobalBatchSampler(num_samples, batch_size, world, rank, seed=seed, drop_last=drop_last)
    s.set_epoch(epoch)
    ds = TensorDataset(torch.arange(num_samples))
    return [b[0].tolist() for b in DataLoader(ds, batch_size=batch_size, sampler=s)]


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("epoch", [0, 5])
def test_union_of_rank_batches_is_the_one_process_batch(world, epoch):
    n, b = 50, 4
    one = batches(n, world * b, 1, 0, epoch)
    per_rank = [batches(n, b, world, r, epoch) for r in range(world)]
    assert all(len(p) == len(one) == n // (world * b) for p in per_rank)
    for t, global_batch in enumerate(one):
        assert sum((p[t] for p in per_rank), []) == global_batch


def test_one_process_with_accumulation_sees_the_rank_batches_in_turn():
    n, b, world = 40, 4, 2
    micro = batches(n, b, 1, 0)
    per_rank = [batches(n, b, world, r) for r in range(world)]
    for t in range(len(per_rank[0])):
        assert micro[world * t: world * t + world] == [p[t] for p in per_rank]


def test_epochs_reshuffle_deterministically_and_never_repeat_within_an_epoch():
    e0, e0_again, e1 = batches(30, 5, 1, 0, 0), batches(30, 5, 1, 0, 0), batches(30, 5, 1, 0, 1)
    assert e0 == e0_again and e0 != e1
    flat = sum(e0, [])
    assert sorted(flat) == list(range(30))
    assert sum(batches(30, 5, 1, 0, seed=4), []) != flat  # the seed matters


def test_partial_last_global_batch_and_tiny_data_sets():
    kept = batches(10, 3, 2, 0, drop_last=False)
    assert [len(b) for b in kept] == [3, 3]  # 2 global batches of 6, the second wraps around
    tiny = [batches(3, 4, 2, r) for r in range(2)]  # smaller than one global batch: repeated
    assert all(len(t) == 1 and len(t[0]) == 4 for t in tiny)
    assert set(tiny[0][0] + tiny[1][0]) == {0, 1, 2}


def test_shard_sampler_covers_every_sample_once_without_padding():
    shards = [list(ShardSampler(11, 3, r)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(11))
    assert [len(ShardSampler(11, 3, r)) for r in range(3)] == [4, 4, 3]
    assert list(ShardSampler(1, 2, 1)) == [0]  # every rank needs a sample


@pytest.mark.parametrize("kw, match", [
    (dict(num_samples=0, batch_size=2), "empty"),
    (dict(num_samples=4, batch_size=0), "batch_size"),
    (dict(num_samples=4, batch_size=2, num_replicas=2, rank=2), "rank"),
    (dict(num_samples=4, batch_size=2, num_replicas=0), "num_replicas"),
])
def test_bad_arguments_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        GlobalBatchSampler(**kw)
