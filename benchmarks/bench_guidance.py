"""Cost of a guidance-loss training step relative to a plain one (target: <= 3x on CPU).

Every step is forward + loss + backward + Adam step of the same model on the same batch; the
candidates are timed side by side (interleaved), so machine load hits them alike. RelDrop (LRP
relevance + mask) is included for comparison.

    python benchmarks/bench_guidance.py [--batch 32] [--points 1024] [--model pointnet]
                                        [--repeats 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package, from a checkout
from common import environment, print_table, time_interleaved  # noqa: E402

from reldrop3d.explain import relevance  # noqa: E402
from reldrop3d.guidance import create_guidance, list_guidance  # noqa: E402
from reldrop3d.masking import RelDrop  # noqa: E402
from reldrop3d.models import create_model  # noqa: E402
from reldrop3d.train.loss import training_loss  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--points", type=int, default=1024)
    p.add_argument("--model", default="pointnet")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = args.device
    model = create_model(args.model, num_classes=11).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch, args.points, 3, device=dev)
    y = torch.randint(0, 11, (args.batch,), device=dev)
    roi = torch.rand(args.batch, args.points, device=dev) > 0.1
    masker = RelDrop(0.5, 0.5)

    def step(guidance=None, reldrop=False):
        def fn():
            xb = masker(x, relevance(model, x, y))[0] if reldrop else x
            opt.zero_grad(set_to_none=True)
            training_loss(model, xb, y, roi=roi, guidance=guidance).loss.backward()
            opt.step()

        return fn

    fns = {"plain": step(), "reldrop (lrp)": step(reldrop=True)}
    for name in list_guidance():
        kw = dict(c1=1.0, c2=25.0) if name == "isnet" else {}
        fns[name] = step(create_guidance(name, **kw))
    print(environment())
    print(f"{args.model}, batch {args.batch} x {args.points} points, {args.repeats} repeats")
    times = time_interleaved(fns, repeats=args.repeats, device=dev)
    print_table("training step (forward + loss + backward + Adam)", times, "plain")


if __name__ == "__main__":
    main()
