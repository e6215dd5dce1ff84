"""The relevance cache: served only for the same sample, input bits and point order, for K epochs;
shared across DDP ranks; saved with a checkpoint."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from reldrop3d.train.relevance_cache import RelevanceCache, sample_fingerprint

M, N = 12, 16


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(M, N, 3, generator=g), torch.arange(M) % 3


def explain_fn(points, calls):
    """A per-sample relevance that identifies its input (sum of coordinates per point)."""

    def compute(rows):
        calls.append(rows.clone())
        return points[rows].sum(-1) * 1.0

    return compute


def test_fingerprint_is_exact_and_independent_of_the_batch():
    x, y = data()
    fp = sample_fingerprint(x, y)
    assert fp.shape == (M, 2) and fp.dtype == torch.int64
    # the same samples in another batch composition: the same fingerprints
    perm = torch.randperm(M)
    assert torch.equal(sample_fingerprint(x[perm], y[perm]), fp[perm])
    assert torch.equal(sample_fingerprint(x[3:5], y[3:5]), fp[3:5])
    # another point order, one flipped bit, another target: another fingerprint
    assert not (sample_fingerprint(x[:, torch.randperm(N)], y) == fp).all(1).any()
    x2 = x.clone()
    x2.view(torch.int32)[0, 5, 1] ^= 1
    assert not (sample_fingerprint(x2, y)[0] == fp[0]).all()
    assert (sample_fingerprint(x2, y)[1:] == fp[1:]).all()
    assert not (sample_fingerprint(x, (y + 1) % 3) == fp).all(1).any()
    assert len({tuple(r) for r in fp.tolist()}) == M
    with pytest.raises(ValueError, match="batch size"):
        sample_fingerprint(x, y[:3])


@pytest.mark.parametrize("every", [1, 2, 4])
def test_maps_are_served_for_k_epochs_then_recomputed(every):
    x, y = data()
    cache = RelevanceCache(every, num_samples=M)
    truth = x.sum(-1)
    computed_in = {i: [] for i in range(M)}
    for epoch in range(9):
        perm = torch.randperm(M)  # shuffled batches of 4, as a training loader
        for b in perm.split(4):
            calls = []
            r = cache.relevance(b, x[b], epoch, explain_fn(x[b], calls), keys=(y[b],))
            torch.testing.assert_close(r, truth[b], rtol=0, atol=0)  # never another sample's map
            for rows in calls:
                for i in b[rows].tolist():
                    computed_in[i].append(epoch)
    for i in range(M):  # every sample recomputed exactly in epochs 0, K, 2K, ...
        assert computed_in[i] == list(range(0, 9, every)), (i, computed_in[i])


def test_the_building_epoch_returns_the_fresh_relevance_itself():
    x, y = data()
    cache = RelevanceCache(4)
    fresh = x[:6].sum(-1) + 0.5
    out = cache.relevance(torch.arange(6), x[:6], 0, lambda rows: fresh[rows], keys=(y[:6],))
    assert torch.equal(out, fresh)
    assert len(cache) == 6 and cache.take_counts() == (0, 6) and cache.take_counts() == (0, 0)


def test_changed_points_order_or_target_of_an_index_are_recomputed():
    x, y = data()
    cache = RelevanceCache(8)
    idx = torch.arange(M)
    cache.relevance(idx, x, 0, explain_fn(x, []), keys=(y,))
    # same index, other point order (a data set that reshuffles or resamples points)
    xs = x[:, torch.randperm(N)]
    calls = []
    r = cache.relevance(idx, xs, 1, explain_fn(xs, calls), keys=(y,))
    assert torch.equal(calls[0], idx) and torch.equal(r, xs.sum(-1))
    # index 0 now holds the shuffled cloud's map; an index given another sample's cloud misses
    swapped = idx.roll(1)
    calls = []
    r = cache.relevance(swapped, xs, 2, explain_fn(xs, calls), keys=(y,))
    assert torch.equal(calls[0], idx) and torch.equal(r, xs.sum(-1))
    # a partial hit: only the missing rows are computed, the others come from the cache
    calls = []
    mixed = xs.clone()
    mixed[[2, 5]] = x[[2, 5]]
    r = cache.relevance(swapped, mixed, 3, explain_fn(mixed, calls), keys=(y,))
    assert calls[0].tolist() == [2, 5] and torch.equal(r, mixed.sum(-1))


def test_storage_grows_and_bad_input_is_refused():
    x, y = data()
    cache = RelevanceCache(2)  # no size given
    cache.relevance(torch.tensor([1, 0]), x[:2], 0, explain_fn(x[:2], []))
    cache.relevance(torch.tensor([40, 41]), x[2:4], 0, explain_fn(x[2:4], []))
    calls = []
    r = cache.relevance(torch.tensor([1, 41]), x[[0, 3]], 1, explain_fn(x[[0, 3]], calls))
    assert calls == [] and torch.equal(r, x[[0, 3]].sum(-1))
    with pytest.raises(ValueError, match="every"):
        RelevanceCache(0)
    with pytest.raises(ValueError, match="index has 3"):
        cache.relevance(torch.arange(3), x[:2], 0, explain_fn(x, []))
    with pytest.raises(ValueError, match=">= 0"):
        cache.relevance(torch.tensor([-1, 0]), x[:2], 0, explain_fn(x, []))


def test_state_round_trip_through_a_weights_only_checkpoint(tmp_path):
    x, y = data()
    cache = RelevanceCache(4, num_samples=M)
    cache.relevance(torch.arange(M), x, 2, explain_fn(x, []), keys=(y,))
    torch.save({"relevance_cache": cache.state_dict()}, tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)["relevance_cache"]
    resumed = RelevanceCache(4)
    resumed.load_state_dict(state)
    calls = []
    r = resumed.relevance(torch.arange(M), x, 5, explain_fn(x, calls), keys=(y,))
    assert calls == [] and torch.equal(r, x.sum(-1))  # served as the uninterrupted run would
    calls = []
    resumed.relevance(torch.arange(M), x, 6, explain_fn(x, calls), keys=(y,))
    assert torch.equal(calls[0], torch.arange(M))  # expired at 2 + 4
    # a resume onto other data (another seed of the data set): nothing stale is served
    other, _ = data(seed=1)
    again = RelevanceCache(4)
    again.load_state_dict(state)
    calls = []
    r = again.relevance(torch.arange(M), other, 3, explain_fn(other, calls), keys=(y,))
    assert torch.equal(calls[0], torch.arange(M)) and torch.equal(r, other.sum(-1))
    with pytest.raises(ValueError, match="inconsistent"):
        again.load_state_dict({**state, "built": state["built"][:3]})
    with pytest.raises(ValueError, match="not a relevance-cache"):
        again.load_state_dict({"x": 1})


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        x, y = data()
        cache = RelevanceCache(3, num_samples=M)
        log = []
        for epoch in range(4):
            g = torch.Generator().manual_seed(epoch)  # one order, the same on every rank
            order = torch.randperm(M, generator=g).view(-1, world, 2)  # global batches of 2 x W
            for step in range(order.shape[0]):
                b = order[step, rank]
                calls = []
                r = cache.relevance(b, x[b], epoch, explain_fn(x[b], calls), keys=(y[b],))
                assert torch.equal(r, x[b].sum(-1))  # never another sample's map
                log += [(epoch, i) for rows in calls for i in b[rows].tolist()]
                cache.sync()
        cache.sync()  # a step where nobody computed anything
        torch.save({"log": log, "state": cache.state_dict()}, out / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_ranks_share_their_maps(tmp_path):
    world = 2
    mp.spawn(_ddp_worker, args=(world, _free_port(), tmp_path), nprocs=world, join=True)
    res = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(world)]
    computed = sorted(res[0]["log"] + res[1]["log"])
    # each sample computed once in epoch 0 and once in epoch 3 (K = 3), on whichever rank met it:
    # maps computed on one rank were served on the other
    assert computed == sorted([(0, i) for i in range(M)] + [(3, i) for i in range(M)])
    for key in ("relevance", "fingerprint", "built"):  # every rank holds the whole cache
        assert torch.equal(res[0]["state"][key], res[1]["state"][key])
