"""``reldrop3d train``: train a model with optional RelDrop / random input dropout.

Every flag is generated from :class:`reldrop3d.train.config.TrainConfig` (one list of settings);
``--config FILE`` reads the same keys from YAML, and any flag given overrides the file.
"""

from __future__ import annotations

import argparse
import json

HELP = "train a point-cloud model (RelDrop, random dropout or plain)"


def add_arguments(p) -> None:
    from ..train.config import TrainConfig
    from ..utils.config import add_dataclass_arguments

    p.add_argument("--config", default=None, metavar="FILE",
                   help="YAML (or JSON) file of TrainConfig keys, e.g. "
                        "configs/reldrop_paper_modelnet40.yaml; flags given override its keys")
    p.set_defaults(_flags=add_dataclass_arguments(p, TrainConfig))
    # the former on/off switch, kept as an alias of --geometric-augment none
    p.add_argument("--no-geometric-augment", dest="geometric_augment", action="store_const",
                   const="none", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def config_from_args(args):
    """The :class:`TrainConfig` of defaults < ``--config`` file < the flags given."""
    from ..train.config import TrainConfig
    from ..utils.config import ConfigError, resolve_config

    try:
        return resolve_config(TrainConfig, args, getattr(args, "config", None))
    except ConfigError:
        raise  # names the file and key
    except ValueError as err:  # "seed must be ...": name the flag when the value came from one
        field = str(err).split(" ", 1)[0]
        flags = getattr(args, "_flags", {})
        if field in flags and field in vars(args) and flags[field] not in str(err):
            raise ValueError(f"{flags[field]}: {err}") from None
        raise


def run(args) -> int:
    from ..train.guards import finite_or_none
    from ..train.run import train

    result = train(config_from_args(args))
    print(json.dumps(finite_or_none(result), indent=2, allow_nan=False))  # NaN / inf: null
    return 0
