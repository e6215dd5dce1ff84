"""Every registered mask mode and fill (timm style): one API, own keyword arguments, finite input."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from reldrop3d.masking import FILLS, MASK_MODES, Masker, defaults, make_masker, mask_batch
from reldrop3d.train.input_dropout import masker_from_config

MODES = MASK_MODES.names()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "masking.md"


def batch(kind, b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    if kind == "points":
        return torch.randn(b, 96, 3, generator=g), torch.rand(b, 96, generator=g)
    return torch.rand(b, 3, 16, 16, generator=g), torch.rand(b, 16, 16, generator=g)


CASES = [(m, kind) for m in MODES for kind in MASK_MODES.get(m).inputs]
OPTIONS = {"region": {"k": 8}}  # small neighbourhoods for 96 points


def test_registry_holds_the_documented_modes():
    assert set(MODES) == {"point", "pixel", "region", "block", "patch", "grid_patch", "dropblock",
                          "random", "random_erasing"}


@pytest.mark.parametrize("fill", FILLS.names())
@pytest.mark.parametrize("mode,kind", CASES)
def test_every_mode_and_fill(mode, kind, fill):
    x, r = batch(kind)
    mean = torch.tensor([0.25, 0.5, 0.75])
    masker = make_masker(mode, fill=fill, fill_value=mean, **OPTIONS.get(mode, {}))
    xm, mask = masker(x, r, generator=torch.Generator().manual_seed(1))
    spatial = x.shape[1:2] if kind == "points" else x.shape[2:]
    assert xm.shape == x.shape and mask.shape == (x.shape[0], *spatial)
    assert mask.dtype == torch.bool and mask.any()
    elems = x if kind == "points" else x.permute(0, 2, 3, 1)
    elems_m = xm if kind == "points" else xm.permute(0, 2, 3, 1)
    assert torch.equal(elems_m[~mask], elems[~mask])  # kept elements untouched
    if fill == "zero":
        assert (elems_m[mask] == 0).all()
    if fill == "mean":
        assert (elems_m[mask] == mean).all()
    # deterministic with a generator
    xm2, mask2 = masker(x, r, generator=torch.Generator().manual_seed(1))
    assert torch.equal(mask, mask2) and torch.equal(xm, xm2)


@pytest.mark.parametrize("mode,kind", CASES)
def test_only_own_keyword_arguments(mode, kind):
    spec = MASK_MODES.get(mode)
    masker = make_masker(mode, **spec.options)  # every declared option, at its default
    assert masker.options == spec.options
    with pytest.raises(ValueError, match=f"mask mode '{mode}' takes no keyword argument.*bogus"):
        make_masker(mode, bogus=1)
    foreign = "alpha" if "alpha" not in spec.options else "scale"
    with pytest.raises(ValueError, match=foreign):
        make_masker(mode, **{foreign: 0.3})


@pytest.mark.parametrize("mode,kind", CASES)
def test_nan_and_inf_rejected_naming_the_sample(mode, kind):
    x, r = batch(kind)
    name = "points" if kind == "points" else "images"
    masker = make_masker(mode, fill="centroid", **OPTIONS.get(mode, {}))
    bad = x.clone()
    bad[2].view(-1)[5] = float("nan")
    with pytest.raises(ValueError, match=f"{name} contain NaN at sample 2"):
        masker(bad, r)
    bad[2].view(-1)[5] = float("inf")
    with pytest.raises(ValueError, match=f"{name} contain inf at sample 2"):
        masker.mask(bad, r)
    if MASK_MODES.get(mode).uses_relevance:
        bad_r = r.clone()
        bad_r[3].view(-1)[0] = float("nan")
        with pytest.raises(ValueError, match="relevance contains NaN at sample 3"):
            masker(x, bad_r)


def test_nan_relevance_of_a_sub_batch_names_the_batch_sample():
    x, r = batch("points", b=6)
    masker = make_masker("point", p=0.5)
    index = torch.tensor([1, 4])
    bad = r[index].clone()
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="relevance contains NaN at sample 4"):
        masker(x, bad, index=index)


@pytest.mark.parametrize("mode", ["random", "random_erasing"])
def test_modes_without_relevance_never_explain(mode):
    kind = MASK_MODES.get(mode).inputs[-1]
    x, _ = batch(kind)
    masker = make_masker(mode)
    assert not masker.uses_relevance

    def explain(idx):
        raise AssertionError("explained")

    _, mask = mask_batch(masker, x, explain, torch.Generator().manual_seed(0))
    assert mask.any()


@pytest.mark.parametrize("p_per", ["sample", "batch"])
def test_p_per_sample_or_batch(p_per):
    masker = make_masker("point", p=0.5, p_per=p_per)
    g = torch.Generator().manual_seed(0)
    counts = torch.stack([torch.zeros(8).index_fill_(0, masker.select(8, g), 1.0)
                          for _ in range(400)])
    per_batch = counts.sum(1)
    if p_per == "batch":
        assert set(per_batch.tolist()) <= {0.0, 8.0}
    else:
        assert ((per_batch > 0) & (per_batch < 8)).float().mean() > 0.9
    assert abs(counts.mean().item() - 0.5) < 0.06


def test_official_block_patch_draw_p_per_batch():
    assert make_masker("block").p_per == "batch" and make_masker("patch").p_per == "batch"
    assert make_masker("pixel").p_per == "sample"
    with pytest.raises(ValueError, match="p_per"):
        make_masker("point", p_per="epoch")


def test_defaults_written_once():
    m = Masker()
    assert (m.mode, m.fill, m.p) == (defaults.MODE, defaults.FILL, defaults.P)
    assert (m.alpha, m.beta) == (defaults.ALPHA, defaults.BETA)
    assert make_masker("random").max_ratio == defaults.RANDOM_MAX_RATIO


def test_docs_list_every_mode_with_its_options():
    text = DOCS.read_text()
    for mode in MODES:
        rows = [line for line in text.splitlines() if line.startswith(f"| `{mode}` |")]
        assert rows, f"docs/masking.md has no row for mode {mode!r}"
        for option in MASK_MODES.get(mode).options:
            assert f"`{option}" in rows[0], f"docs row of {mode!r} misses option {option!r}"


def config(**kw):
    base = dict(augment="reldrop", mask_mode="point", alpha=defaults.ALPHA, beta=defaults.BETA,
                fill="zero", mask_p=1.0, dropout_max_ratio=0.875, is_image_data=False)
    return SimpleNamespace(**{**base, **kw})


def test_masker_from_config():
    assert masker_from_config(config(augment="none")) is None
    assert masker_from_config(config(alpha=0.3)).alpha == 0.3
    assert masker_from_config(config(is_image_data=True)).mode == "pixel"
    assert masker_from_config(config(augment="random")).mode == "random"
    assert masker_from_config(config(augment="random")).fill == "first"
    assert masker_from_config(config(augment="random", is_image_data=True)).mode == "random_erasing"
    img_random = masker_from_config(config(augment="random", mask_mode="random",
                                           is_image_data=True))
    assert img_random.mode == "random" and img_random.max_ratio == 0.875
    block = masker_from_config(config(mask_mode="block", is_image_data=True, fill="mean"))
    assert block.mode == "block" and "alpha" not in block.options
    with pytest.raises(ValueError, match="mask mode 'block' has no alpha"):
        masker_from_config(config(mask_mode="block", alpha=0.3, is_image_data=True))
    with pytest.raises(ValueError, match="unknown mask mode"):
        masker_from_config(config(mask_mode="nope"))


@pytest.mark.gpu
@pytest.mark.parametrize("mode,kind", CASES)
def test_every_mode_on_gpu(mode, kind):
    dev = torch.device("cuda")
    x, r = (t.to(dev) for t in batch(kind))
    masker = make_masker(mode, p=0.5, fill="mean", **OPTIONS.get(mode, {}))
    g = torch.Generator(device=dev).manual_seed(0)
    xm, mask = masker(x, r, generator=g)
    assert xm.device.type == "cuda" and mask.device.type == "cuda"
    g = torch.Generator(device=dev).manual_seed(0)
    assert torch.equal(masker(x, r, generator=g)[1], mask)
