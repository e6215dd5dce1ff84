"""``--relevance-every K`` in training: InputDropout with a relevance cache gives the fresh path's
masks bit for bit in the epoch the cache is built, never serves another sample's relevance
(shuffled loader, swapped samples, re-sampling data sets, DDP shards, resume), expires after K
epochs, and K = 1 is today's path."""

import csv
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from reldrop3d.data import batch_to_input, create_dataset
from reldrop3d.masking import make_masker, mask_batch
from reldrop3d.models import create_model
from reldrop3d.train.config import TrainConfig
from reldrop3d.train.input_dropout import InputDropout
from reldrop3d.train.run import train
from reldrop3d.train.samplers import GlobalBatchSampler

N_POINTS = 64


@pytest.fixture(scope="module")
def train_set():
    return create_dataset("synthetic", "train", num_points=N_POINTS,
                          num_shapes={"train": 24, "val": 4, "test": 4})


class Counting:
    """A relevance function that depends only on each sample's own input (the x coordinate plus
    a per-class offset), recording which clouds it was asked about: a wrong cached map changes
    the mask of a rule with alpha < 1."""

    def __init__(self):
        self.calls = []  # one tensor of cloud fingerprints (sum of coordinates) per call

    def __call__(self, model, x, target, category=None, **kw):
        self.calls.append(x.sum((1, 2)).clone())
        return x[..., 0] + 0.1 * target[:, None].to(x.dtype)

    def count(self):
        return sum(c.numel() for c in self.calls)


def loader(ds, epoch, batch_size=6, **kw):
    sampler = GlobalBatchSampler(len(ds), batch_size, seed=3, **kw)
    sampler.set_epoch(epoch)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler)


def run_epochs(dropout, ds, epochs, reference=None, start=0, **loader_kw):
    """Mask ``epochs`` epochs of shuffled batches; with ``reference`` (a fresh-path InputDropout)
    assert that every mask equals the reference's, drawn from the same generator state.
    Returns the relevance calls (samples explained) per epoch."""
    per_epoch = []
    for epoch in range(start, start + epochs):
        before = dropout.relevance_fn.count()
        for batch in loader(ds, epoch, **loader_kw):
            x, y = batch_to_input(batch), batch["label"]
            out, mask = dropout(None, x, y, index=batch["index"], epoch=epoch)
            if reference is not None:
                ref_out, ref_mask = reference(None, x, y)
                assert torch.equal(mask, ref_mask) and torch.equal(out, ref_out), epoch
        dropout.sync_cache()
        per_epoch.append(dropout.relevance_fn.count() - before)
    return per_epoch


def masker(p=1.0):
    return make_masker("point", alpha=0.3, beta=0.25, fill="zero", p=p)


def test_k1_is_todays_path_exactly(train_set):
    batch = default_collate([train_set[i] for i in range(8)])
    x, y = batch_to_input(batch), batch["label"]
    fn = Counting()
    k1 = InputDropout(masker(0.5), relevance_fn=fn, relevance_every=1,
                      generator=torch.Generator().manual_seed(5))
    assert k1.cache is None and k1.sync_cache() is None
    out, mask = k1(None, x, y, index=batch["index"], epoch=3)
    # today's path: mask_batch with the same generator state and relevance
    g = torch.Generator().manual_seed(5)
    ref_out, ref_mask = mask_batch(masker(0.5), x, lambda i: fn(None, x[i], y[i]), g)
    assert torch.equal(mask, ref_mask) and torch.equal(out, ref_out)
    # p = 0.5: only the chosen share explained, the same samples by both paths
    assert len(fn.calls) == 2 and 0 < fn.calls[0].numel() < 8
    assert torch.equal(fn.calls[0], fn.calls[1])
    # modes without relevance never build a cache
    assert InputDropout(make_masker("random"), relevance_every=4).cache is None


@pytest.mark.parametrize("p", [1.0, 0.5])
def test_building_epoch_gives_the_fresh_masks_bit_for_bit_with_real_lrp(train_set, p):
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=train_set.num_classes).eval()
    cached = InputDropout(masker(p), relevance_every=4, num_samples=len(train_set),
                          generator=torch.Generator().manual_seed(1))
    fresh = InputDropout(masker(p), generator=torch.Generator().manual_seed(1))
    explained = 0
    for batch in loader(train_set, 0):
        x, y = batch_to_input(batch), batch["label"]
        out, mask = cached(model, x, y, index=batch["index"], epoch=0)
        ref_out, ref_mask = fresh(model, x, y)
        assert torch.equal(mask, ref_mask) and torch.equal(out, ref_out)
        hits, misses = cached.sync_cache()
        assert hits == 0
        explained += misses
    # with p < 1 only the masked share was explained and cached
    assert explained == len(cached.cache) and (explained == len(train_set) if p == 1 else
                                               0 < explained < len(train_set))


@pytest.mark.parametrize("k", [2, 3])
def test_maps_expire_after_k_epochs_and_masks_match_the_fresh_path(train_set, k):
    fn = Counting()
    cached = InputDropout(masker(), relevance_fn=fn, relevance_every=k,
                          generator=torch.Generator().manual_seed(2))
    reference = InputDropout(masker(), relevance_fn=Counting(),
                             generator=torch.Generator().manual_seed(2))
    calls = run_epochs(cached, train_set, 2 * k + 1, reference)
    n = len(train_set)  # 24 = 4 batches of 6: every sample every epoch
    expected = [n if e % k == 0 else 0 for e in range(2 * k + 1)]
    assert calls == expected


def test_p_half_caches_only_what_was_masked_and_serves_it_later(train_set):
    fn = Counting()
    cached = InputDropout(masker(0.5), relevance_fn=fn, relevance_every=8,
                          generator=torch.Generator().manual_seed(4))
    reference = InputDropout(masker(0.5), relevance_fn=Counting(),
                             generator=torch.Generator().manual_seed(4))
    calls = run_epochs(cached, train_set, 6, reference)
    assert 0 < calls[0] < len(train_set)  # about half of each batch
    # later epochs compute only samples that were never masked before, so fewer and fewer
    assert sum(calls) == len(cached.cache) <= len(train_set)
    assert calls[-1] < calls[0]


class Swapped(Dataset):
    """``base`` with the clouds of two samples exchanged (their indices kept) after ``swap()``;
    or, with ``resample=True``, slightly other points on every access."""

    def __init__(self, base, i=0, j=1, resample=False):
        self.base, self.i, self.j, self.swapped, self.resample = base, i, j, False, resample
        self.reads = 0

    def __len__(self):
        return len(self.base)

    def __getitem__(self, k):
        s = dict(self.base[k])
        if self.swapped and k in (self.i, self.j):
            other = dict(self.base[self.j if k == self.i else self.i])
            s["points"] = other["points"]
        if self.resample:
            self.reads += 1
            g = torch.Generator().manual_seed(self.reads)
            s["points"] = s["points"] + 1e-3 * torch.randn(s["points"].shape, generator=g)
        return s


def test_two_swapped_samples_are_recomputed_never_served_each_others_map(train_set):
    ds = Swapped(train_set, 3, 17)
    fn = Counting()
    cached = InputDropout(masker(), relevance_fn=fn, relevance_every=8,
                          generator=torch.Generator().manual_seed(6))
    reference = InputDropout(masker(), relevance_fn=Counting(),
                             generator=torch.Generator().manual_seed(6))
    assert run_epochs(cached, ds, 1, reference) == [len(ds)]
    ds.swapped = True
    fn.calls.clear()
    with pytest.warns(RuntimeWarning, match="other points than when"):
        calls = run_epochs(cached, ds, 1, reference, start=1)  # masks equal the fresh path's
    assert calls == [2]
    swapped_clouds = {round(float(train_set[i]["points"].sum()), 4) for i in (3, 17)}
    assert {round(float(c), 4) for c in torch.cat(fn.calls)} == swapped_clouds


def test_a_resampling_data_set_is_recomputed_every_step_with_one_warning(train_set):
    ds = Swapped(train_set, resample=True)
    fn = Counting()
    cached = InputDropout(masker(), relevance_fn=fn, relevance_every=4,
                          generator=torch.Generator().manual_seed(7))
    reference = InputDropout(masker(), relevance_fn=Counting(),
                             generator=torch.Generator().manual_seed(7))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calls = run_epochs(cached, ds, 3, reference)
    assert calls == [len(ds)] * 3  # nothing could be reused
    assert sum("other points than when" in str(w.message) for w in caught) == 1


def test_ddp_style_shards_with_global_indices_serve_only_their_own_samples(train_set):
    """Two ranks (no process group: each keeps its own cache) draw their slices of every global
    batch; the shards change every epoch, so a rank meets samples cached by nobody, by itself or
    (under DDP, after sync) by the other rank; masks equal the fresh path's every step."""
    fns = [Counting(), Counting()]
    ranks = [InputDropout(masker(), relevance_fn=fns[r], relevance_every=3,
                          generator=torch.Generator().manual_seed(10 + r)) for r in range(2)]
    refs = [InputDropout(masker(), relevance_fn=Counting(),
                         generator=torch.Generator().manual_seed(10 + r)) for r in range(2)]
    seen = [set(), set()]
    for epoch in range(3):  # K = 3: nothing expires, a rank computes what it meets first
        for r in range(2):
            before = fns[r].count()
            met = set()
            for batch in loader(train_set, epoch, batch_size=3, num_replicas=2, rank=r):
                x, y = batch_to_input(batch), batch["label"]
                out, mask = ranks[r](None, x, y, index=batch["index"], epoch=epoch)
                ref_out, ref_mask = refs[r](None, x, y)
                assert torch.equal(mask, ref_mask) and torch.equal(out, ref_out)
                met |= set(batch["index"].tolist())
                ranks[r].sync_cache()
            new = met - seen[r]
            # a rank computes exactly the samples of its shard it has not cached itself
            assert fns[r].count() - before == len(new)
            if epoch > 0:
                assert new, "the shards should change between epochs"
            seen[r] |= met
    assert seen[0] | seen[1] == set(range(len(train_set)))


def test_cache_needs_the_index_and_the_epoch(train_set):
    batch = default_collate([train_set[i] for i in range(4)])
    dropout = InputDropout(masker(), relevance_fn=Counting(), relevance_every=2)
    with pytest.raises(ValueError, match="batch\\['index'\\]"):
        dropout(None, batch_to_input(batch), batch["label"])
    with pytest.raises(ValueError, match="relevance_every"):
        InputDropout(masker(), relevance_every=0)


def test_partseg_relevance_is_cached_per_sample(train_set):
    torch.manual_seed(0)
    model = create_model("pointnet", num_classes=train_set.num_classes, task="partseg",
                         num_parts=train_set.num_parts).eval()
    calls = []

    def counted(model, x, target, category, **kw):
        calls.append(x.shape[0])
        from reldrop3d.explain import relevance

        return relevance(model, x, target, category=category, method="lrp", **kw)

    cached = InputDropout(masker(), relevance_fn=counted, relevance_every=2,
                          generator=torch.Generator().manual_seed(3))
    fresh = InputDropout(masker(), generator=torch.Generator().manual_seed(3))
    for epoch in range(2):
        for batch in loader(train_set, epoch):
            x, parts, cat = batch_to_input(batch), batch["parts"], batch["label"]
            out, mask = cached(model, x, parts, cat, index=batch["index"], epoch=epoch)
            if epoch == 0:
                ref_out, ref_mask = fresh(model, x, parts, cat)
                assert torch.equal(mask, ref_mask)
            cached.sync_cache()
        assert sum(calls) == len(train_set)  # epoch 1 served everything from the cache


def test_config_validates_relevance_every():
    for bad in (0, -2, True, 1.5):
        with pytest.raises(ValueError, match="relevance_every"):
            TrainConfig(relevance_every=bad)
    with pytest.raises(ValueError, match="mask-first"):
        TrainConfig(relevance_every=4, augment_order="augment-first")
    TrainConfig(relevance_every=4, augment_order="augment-first", geometric_augment="none")


def _cached_share_per_epoch(out):
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    return {int(r["epoch"]): float(r["train_relevance_cached"]) for r in rows
            if r.get("train_relevance_cached")}


def test_training_reuses_and_a_resumed_run_rebuilds_the_cache(tmp_path, monkeypatch):
    """Train 2 epochs with K = 4, resume to 4: the resumed run computes every sample again in
    its first epoch (the cache is not in the checkpoint, nothing from before is served) and
    reuses in the next."""
    import reldrop3d.train.input_dropout as input_dropout

    explained = Counter()
    real = input_dropout.relevance

    def counted(model, x, target, **kw):
        explained["samples"] += x.shape[0]
        return real(model, x, target, **kw)

    monkeypatch.setattr(input_dropout, "relevance", counted)
    base = dict(data="synthetic", data_kwargs={"num_shapes": {"train": 32, "val": 8, "test": 4}},
                num_points=N_POINTS, batch_size=8, progress=False, accelerator="cpu",
                relevance_every=4, out=str(tmp_path / "run"))
    train(TrainConfig(epochs=2, **base))
    share = _cached_share_per_epoch(tmp_path / "run")
    assert share == {0: 0.0, 1: 1.0} and explained["samples"] == 32
    explained.clear()
    train(TrainConfig(epochs=4, resume=str(tmp_path / "run" / "checkpoints" / "last.ckpt"),
                      **base))
    share = _cached_share_per_epoch(tmp_path / "run")
    assert share[2] == 0.0 and share[3] == 1.0  # rebuilt after the resume, then reused
    assert explained["samples"] == 32
