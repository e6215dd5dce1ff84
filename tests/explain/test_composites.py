"""The official RelDrop composites, against zennit composites built the way the authors' code
builds them (3D_Pointclouds/utils/provider.py, 2D_Images/run_scripts/cifar_imagenet.py)."""

import pytest
import torch
from explain_helpers import randomise_batchnorm, tiny_bn_eps
from zennit.attribution import Gradient
from zennit.canonizers import NamedMergeBatchNorm, SequentialMergeBatchNorm
from zennit.composites import NameMapComposite, SpecialFirstLayerMapComposite
from zennit.rules import Epsilon, Flat, Norm, Pass
from zennit.types import Activation, AvgPool, BatchNorm, Convolution
from zennit.types import Linear as AnyLinear

import reldrop3d.models.images  # noqa: F401
from reldrop3d.explain import LRPConfig, relevance, resolve_composite
from reldrop3d.models import create_model
from reldrop3d.models.attribution import attribution_mode

LINEAR = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)
BN = torch.nn.modules.batchnorm._BatchNorm


class LogSoftmaxOutput(torch.nn.Module):
    """The official point models end in ``F.log_softmax`` (a function, not a module)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.nn.functional.log_softmax(self.net(x), -1)


def official_3d_composite(root, first_conv):
    """NameMapComposite + NamedMergeBatchNorm as in provider.py: Flat on one conv, Epsilon() on
    every other conv and linear layer, Pass on BatchNorm and Dropout, every conv/BN pair merged."""
    name_map, pairs = [], []
    modules = list(root.named_modules())
    for (name, m), (nxt_name, nxt) in zip(modules, modules[1:] + [("", None)]):
        if isinstance(m, LINEAR):
            name_map.append(([name], Flat() if name == first_conv else Epsilon()))
            if isinstance(nxt, BN):
                pairs.append([[name], nxt_name])
        elif isinstance(m, (BN, torch.nn.Dropout)):
            name_map.append(([name], Pass()))
    return NameMapComposite(name_map=name_map, canonizers=[NamedMergeBatchNorm(pairs)])


@pytest.mark.parametrize("in_channels", [3, 6])
def test_reldrop_official_3d_matches_the_official_zennit_composite(in_channels):
    torch.manual_seed(0)
    model = create_model("pointnet2_msg", num_classes=5, in_channels=in_channels, num_centroids=(32, 8))
    model = tiny_bn_eps(randomise_batchnorm(model)).double().eval()
    x = torch.randn(2, 128, in_channels, dtype=torch.float64) * 0.5
    t = torch.tensor([1, 4])
    ours = relevance(model, x, t, composite="reldrop-official", start="log_softmax")

    wrapped = LogSoftmaxOutput(model).eval()
    composite = official_3d_composite(wrapped, "net.sa1.branches.0.mlp.0.0")
    onehot = torch.eye(5, dtype=torch.float64)[t]
    with attribution_mode(), Gradient(model=wrapped, composite=composite) as attributor:
        _, attribution = attributor(x.clone().requires_grad_(True), onehot)
    ref = attribution.sum(-1)  # over every input channel: xyz (and normals)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6 * ref.abs().max().item())
    # the configuration matters: Flat on all three first-scale branches gives another map
    other = relevance(model, x, t, composite="epsilon-flat", start="log_softmax")
    assert (other - ours).abs().max() > 1e-3 * ours.abs().max()


def test_reldrop_official_is_flat_on_the_first_input_layer_only():
    names = ("sa1.branches.0.mlp.0.0", "sa1.branches.1.mlp.0.0", "sa1.branches.2.mlp.0.0")
    cfg = resolve_composite("reldrop-official")
    assert cfg.input_rules(names) == {names[0]: "flat", names[1]: "epsilon", names[2]: "epsilon"}
    assert cfg.epsilon == 1e-6 and cfg.fast
    assert resolve_composite("reldrop-official-2d") == LRPConfig(input_layers="first", epsilon=1e-3)


def official_2d_composite(canonizers):
    """cifar_imagenet.py's composite ('epsilon_zplus' there), with eps_comp = 1e-3."""
    return SpecialFirstLayerMapComposite(
        layer_map=[
            (Activation, Pass()), (AvgPool, Norm()),
            (Convolution, Epsilon(epsilon=1e-3)), (AnyLinear, Epsilon(epsilon=1e-3)),
            (BatchNorm, Pass()),
        ],
        first_map=[(AnyLinear, Flat())],
        canonizers=canonizers,
    )


@pytest.mark.parametrize("name,size", [("small_cnn", 8), ("resnet18", 32)])
def test_reldrop_official_2d_matches_the_official_zennit_composite(name, size):
    torch.manual_seed(0)
    model = tiny_bn_eps(randomise_batchnorm(create_model(name, num_classes=4, in_channels=3))).double().eval()
    x = torch.rand(2, 3, size, size, dtype=torch.float64)
    t = torch.tensor([0, 3])
    # the official image models output logits; zennit gets a one-hot grad_output
    ours = relevance(model, x, t, composite="reldrop-official-2d", start="onehot")
    if name == "resnet18":
        from zennit.torchvision import ResNetCanonizer

        canonizers = [ResNetCanonizer()]
    else:
        canonizers = [SequentialMergeBatchNorm()]
    with Gradient(model=model, composite=official_2d_composite(canonizers)) as attributor:
        _, attribution = attributor(x.clone().requires_grad_(True), torch.eye(4, dtype=torch.float64)[t])
    ref = attribution.sum(1)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6 * ref.abs().max().item())
    if name == "small_cnn":  # the fast path answered, and epsilon matters
        other = relevance(model, x, t, composite="epsilon-flat", start="onehot")
        assert (other - ours).abs().max() > 1e-4 * ours.abs().max()
