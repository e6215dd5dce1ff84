"""k-d leaf layout: a permutation into equal, compact leaves."""

from __future__ import annotations

import pytest
import torch

from reldrop3d.ops.spatial_sort import kd_block_layout, kd_tree_order


@pytest.mark.parametrize("n, target", [(1024, 16), (1000, 16), (1, 16), (17, 16), (4096, 8)])
def test_layout_covers_the_points_with_little_padding(n, target):
    levels, size = kd_block_layout(n, target)
    assert size <= target and size * 2**levels >= n > (size - 1) * 2**levels


def test_order_is_a_permutation_into_compact_leaves():
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(2, 1024, 3, generator=g)
    order = kd_tree_order(pts, 6)  # 64 leaves of 16
    assert torch.equal(order.sort(-1).values, torch.arange(1024).expand(2, -1))
    leaves = pts.gather(1, order.unsqueeze(-1).expand(-1, -1, 3)).view(2, 64, 16, 3)
    extent = (leaves.amax(2) - leaves.amin(2)).norm(dim=-1)
    # a leaf of 16 uniform points spans ~ (16 / 1024)^(1/3) of the unit cube per axis, far from
    # the diagonal sqrt(3) that unsorted blocks would span
    assert extent.mean() < 0.6 and extent.max() < 1.0
    # the first split is at the median along the longest axis: halves do not overlap there
    halves = pts.gather(1, order.unsqueeze(-1).expand(-1, -1, 3)).view(2, 2, 512, 3)
    axis = (pts.amax(1) - pts.amin(1)).argmax(-1)
    for b in range(2):
        a = int(axis[b])
        assert halves[b, 0, :, a].max() <= halves[b, 1, :, a].min()


def test_bad_layouts_are_named():
    with pytest.raises(ValueError, match="divisible"):
        kd_tree_order(torch.rand(1, 10, 3), 2)
    with pytest.raises(ValueError, match="num_points"):
        kd_block_layout(0)
