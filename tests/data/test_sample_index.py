"""Every registered data set gives each sample its index and the same values, in the same point
order, every time it is read: what the relevance cache (``--relevance-every``) keys on."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from reldrop3d.data import DATASETS, batch_to_input, create_dataset

BUILDERS = {
    "synthetic": lambda shared, tmp, build: create_dataset(
        "synthetic", "train", num_points=64, num_shapes={"train": 22, "test": 11}),
    "modelnet40": lambda shared, tmp, build: create_dataset(
        "modelnet40", "train", root=shared / "modelnet40_normal_resampled", num_points=256,
        cache_dir=tmp),
    "modelnet10": lambda shared, tmp, build: create_dataset(  # the shared sample has no ModelNet10 list
        "modelnet10", "train", root=build.modelnet_normal(tmp / "m10", name="modelnet10",
                                                          classes=("bed", "sofa")),
        num_points=64, cache_dir=tmp),
    "shapenetpart": lambda shared, tmp, build: create_dataset(
        "shapenetpart", "trainval", root=shared / "shapenetpart_cap_sample", num_points=256,
        use_normals=True, cache_dir=tmp),
    "shapenet": lambda shared, tmp, build: create_dataset(
        "shapenet", "trainval", root=shared / "shapenetpart_cap_sample", num_points=256,
        cache_dir=tmp),
    "digits": lambda shared, tmp, build: create_dataset("digits", "val"),
}


def test_every_registered_data_set_is_covered():
    assert sorted(BUILDERS) == sorted(DATASETS.names())


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_samples_carry_their_index_and_a_fixed_point_order(name, shared_data, tmp_path, build):
    ds = BUILDERS[name](shared_data, tmp_path, build)
    n = len(ds)
    for i in (0, n // 2, n - 1):
        s = ds[i]
        assert s["index"].dtype == torch.int64 and s["index"].shape == () and int(s["index"]) == i
    # a shuffling loader (two "epochs"): each batch's index names the sample it holds, and the
    # model input of a sample is bit-identical in every epoch
    seen = {}
    for epoch in range(2):
        torch.manual_seed(epoch)
        for batch in DataLoader(ds, batch_size=4, shuffle=True):
            x = batch_to_input(batch)
            for row, i in enumerate(batch["index"].tolist()):
                assert torch.equal(x[row], batch_to_input(
                    torch.utils.data.default_collate([ds[i]]))[0])
                if i in seen:
                    assert torch.equal(seen[i], x[row])
                seen[i] = x[row].clone()
    assert sorted(seen) == list(range(n))
