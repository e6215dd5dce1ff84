"""Named LRP configurations ("composites"): which rule each layer of a model gets.

An :class:`LRPConfig` is model-independent: it names the rule of the *input layers* (the layers a
model lists in ``lrp_input_layers``, in module order), of the convolutions and of the dense layers;
BatchNorm is always merged into the linear layer before it. The fast path
(:mod:`.fast_lrp`) and zennit (:mod:`.zennit_lrp`) read the same configuration.

========================= ===========================================================================
name                      rules
========================= ===========================================================================
``epsilon-flat``          Flat on every input layer, Epsilon (1e-6) on every other conv and linear
                          layer (the default)
``epsilon``               Epsilon (1e-6) everywhere
``reldrop-official``      the official RelDrop 3D composite: Flat on the *first* input layer only
                          (PointNet++ MSG: the first conv of the first scale branch of the first set
                          abstraction), Epsilon (1e-6) on every other conv and linear layer,
                          including the other branches' first convs
``reldrop-official-2d``   the official RelDrop 2D composite: Flat on the first layer, Epsilon
                          (1e-3) on every other conv and linear layer
``epsilon-plus-flat``     Flat input, ZPlus on convolutions, Epsilon on dense layers (zennit only)
``epsilon-alpha2-beta1-flat``  Flat input, AlphaBeta(2, 1) on convolutions, Epsilon on dense
                          layers (zennit only)
========================= ===========================================================================

The official composites are read from the authors' code: ``3D_Pointclouds/utils/provider.py``
(``NameMapComposite`` with ``Flat`` on ``sa1.conv_blocks.0.0``, ``Epsilon()`` on every other conv
and linear layer, ``Pass`` on BatchNorm and dropout, ``NamedMergeBatchNorm`` over every conv/BN
pair) and ``2D_Images/run_scripts/cifar_imagenet.py`` (``SpecialFirstLayerMapComposite``: ``Flat``
on the first linear-type layer, ``Epsilon(1e-3)`` on convolutions and linear layers, ``Pass`` on
activations and BatchNorm, ``Norm`` on average pooling, BatchNorm merged by the canonizer).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..utils.registry import Registry

INPUT_RULES = ("flat", "epsilon")
INPUT_LAYERS = ("all", "first")
CONV_RULES = ("epsilon", "zplus", "alpha_beta")


@dataclass(frozen=True)
class LRPConfig:
    """Which LRP rules to use.

    Attributes
    ----------
    input_rule : {"flat", "epsilon"}
        Rule of the input layers (``model.lrp_input_layers``). ``"flat"`` is the RelDrop paper's
        choice (relevance independent of the raw coordinates' sign).
    input_layers : {"all", "first"}
        Which input layers get ``input_rule``: all of them, or only the first one listed (the
        official 3D composite: one branch of PointNet++ MSG's first set abstraction); the others
        get the Epsilon rule.
    epsilon : float
        Stabiliser of the Epsilon rule on every other linear unit.
    zero_bias : bool
        Leave biases out of the rule's denominators (zennit's ``zero_params="bias"``): relevance
        is then conserved, so per-point relevance sums to the initial relevance.
    conv_rule : {"epsilon", "zplus", "alpha_beta"}
        Rule of the convolutions (the shared per-point MLPs); dense layers keep Epsilon.
        ``zplus`` and ``alpha_beta`` (alpha=2, beta=1) give zennit's EpsilonPlusFlat and
        EpsilonAlpha2Beta1Flat composites; they are computed with zennit only (:attr:`fast`).
    """

    input_rule: str = "flat"
    epsilon: float = 1e-6
    zero_bias: bool = False
    conv_rule: str = "epsilon"
    input_layers: str = "all"

    def __post_init__(self):
        if self.input_rule not in INPUT_RULES:
            raise ValueError(f"input_rule must be one of {INPUT_RULES}, got {self.input_rule!r}")
        if self.input_layers not in INPUT_LAYERS:
            raise ValueError(f"input_layers must be one of {INPUT_LAYERS}, got {self.input_layers!r}")
        if self.conv_rule not in CONV_RULES:
            raise ValueError(f"conv_rule must be one of {CONV_RULES}, got {self.conv_rule!r}")
        if not self.epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon}")

    @property
    def fast(self) -> bool:
        """Whether the single-backward fast path implements these rules (Epsilon convolutions)."""
        return self.conv_rule == "epsilon"

    def input_rules(self, names: tuple[str, ...]) -> dict[str, str]:
        """The rule (``"flat"`` or ``"epsilon"``) of each of a model's input layers ``names``."""
        return {
            n: self.input_rule if (self.input_layers == "all" or i == 0) else "epsilon"
            for i, n in enumerate(names)
        }


COMPOSITES = Registry("LRP composite")
register_composite = COMPOSITES.register
DEFAULT_COMPOSITE = "epsilon-flat"


@register_composite("epsilon-flat")
def _epsilon_flat() -> LRPConfig:
    return LRPConfig()


@register_composite("epsilon")
def _epsilon() -> LRPConfig:
    return LRPConfig(input_rule="epsilon")


@register_composite("reldrop-official")
def _reldrop_official() -> LRPConfig:
    return LRPConfig(input_layers="first", epsilon=1e-6)


@register_composite("reldrop-official-2d")
def _reldrop_official_2d() -> LRPConfig:
    return LRPConfig(input_layers="first", epsilon=1e-3)


@register_composite("epsilon-plus-flat")
def _epsilon_plus_flat() -> LRPConfig:
    return LRPConfig(conv_rule="zplus")


@register_composite("epsilon-alpha2-beta1-flat")
def _epsilon_alpha_beta_flat() -> LRPConfig:
    return LRPConfig(conv_rule="alpha_beta")


DEFAULT_CONFIG = COMPOSITES.create(DEFAULT_COMPOSITE)


def resolve_composite(composite: str | LRPConfig | None) -> LRPConfig:
    """An :class:`LRPConfig` from a registered name, a config, or None (the default)."""
    if composite is None:
        return DEFAULT_CONFIG
    if isinstance(composite, LRPConfig):
        return composite
    if isinstance(composite, str):
        try:
            return COMPOSITES.create(composite)
        except KeyError as err:
            raise ValueError(err.args[0]) from None
    raise TypeError(f"composite must be a name or an LRPConfig, got {type(composite).__name__}")


def list_composites() -> list[str]:
    return COMPOSITES.names()
