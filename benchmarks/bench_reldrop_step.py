"""Cost of RelDrop in a training step, and of the vectorised mask.

(a) training-step time: plain vs RelDrop with the fast LRP vs RelDrop with zennit LRP, same model
    and batch, measured side by side (interleaved) in one run;
(b) mask computation: the vectorised rule vs a per-sample Python loop of the same rule.

    python benchmarks/bench_reldrop_step.py [--batch 32] [--points 1024] [--model pointnet] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, make_train_step, print_table, time_interleaved  # noqa: E402

from reldrop3d.explain import relevance  # noqa: E402
from reldrop3d.masking import RelDrop, reldrop_mask  # noqa: E402
from reldrop3d.masking.rules import check_unit_interval  # noqa: E402
from reldrop3d.models import create_model  # noqa: E402


def per_sample_loop_mask(r: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """The same rule, one sample at a time, as a straightforward implementation would do it."""
    check_unit_interval(alpha=alpha, beta=beta)
    out = torch.zeros(r.shape, dtype=torch.bool)
    for i in range(r.shape[0]):
        ri = r[i]
        lo, hi = ri.min().item(), ri.max().item()
        rn = (ri - lo) / (hi - lo) if hi > lo else torch.zeros_like(ri)
        u = torch.rand(ri.shape)
        out[i] = alpha * u + (1 - alpha) * rn >= 1 - beta
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--model", default="pointnet")
    ap.add_argument("--classes", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only-mask", action="store_true", help="run only part (b)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    model = create_model(args.model, num_classes=args.classes).to(dev)
    x = torch.randn(args.batch, args.points, 3, device=dev)
    y = torch.randint(0, args.classes, (args.batch,), device=dev)
    masker = RelDrop(0.5, 0.5)
    step = make_train_step(model, x, y)

    def reldrop_step(method, start="logit"):
        def fn():
            r = relevance(model, x, y, method=method, start=start)
            step(masker(x, r)[0])

        return fn

    if not args.only_mask:
        training_step_table(args, model, x, y, step, reldrop_step, dev)
    mask_table(args)


def training_step_table(args, model, x, y, step, reldrop_step, dev) -> None:
    print(f"RelDrop training-step cost: {args.model}, batch {args.batch} x {args.points}, {environment()}")
    times = time_interleaved(
        {
            "plain step": lambda: step(x),
            "RelDrop step, fast LRP": reldrop_step("lrp"),
            "RelDrop step, fast LRP, log_softmax start": reldrop_step("lrp", "log_softmax"),
            "RelDrop step, zennit LRP": reldrop_step("lrp_zennit"),
            "fast LRP alone": lambda: relevance(model, x, y, method="lrp"),
            "zennit LRP alone": lambda: relevance(model, x, y, method="lrp_zennit"),
            "gradient x input alone": lambda: relevance(model, x, y, method="input_x_gradient"),
        },
        repeats=args.repeats,
        device=dev,
    )
    print_table("(a) training step", times, "plain step")


def mask_table(args) -> None:
    # tiny tensors: one thread, so that thread hand-offs on a busy machine do not dominate
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    r = torch.randn(args.batch, args.points)
    mtimes = time_interleaved(
        {
            "vectorised mask": lambda: reldrop_mask(r, 0.5, 0.5),
            "per-sample loop mask": lambda: per_sample_loop_mask(r, 0.5, 0.5),
        },
        repeats=50,
    )
    print_table(f"(b) mask computation, batch {args.batch} x {args.points} (cpu, 1 thread)", mtimes, "vectorised mask")
    print(f"\nspeed-up of the vectorised mask: {mtimes['per-sample loop mask'] / mtimes['vectorised mask']:.1f}x")
    torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
