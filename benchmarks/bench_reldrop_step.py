"""Cost of a RelDrop training step against a plain step, with relevance reuse (``--relevance-every``)
and with relevance of only a share of the batch (``--mask-p``), per model, side by side in one run.

Per model, measured interleaved (round-robin repeats, medians) on the same batch:

* plain step: one Adam step on the clean batch;
* RelDrop fresh (K=1): relevance of the whole batch (fast LRP, the training defaults: log_softmax
  start, epsilon-flat) through :class:`reldrop3d.train.InputDropout`, mask, step on the masked batch;
* RelDrop p=0.5: as fresh, a share 0.5 of the batch explained and masked;
* cache build: a step of an epoch that builds the cache (every sample missed: relevance, stored);
* cache hit: a step of an epoch that reuses it (fingerprint, look-up, fresh mask, step);
* RelDrop K=2/4/8 amortised: the mean step cost over K epochs, one building epoch and K-1 reusing
  ones: ``(build + (K - 1) * hit) / K``.

On the CPU only ratios to the plain step are printed (absolute times on a shared machine say little);
on a GPU (when CUDA is available) also milliseconds.

    python benchmarks/bench_reldrop_step.py            # every model; CPU, and GPU if available
    python benchmarks/bench_reldrop_step.py --quick    # fewer repeats, smaller clouds for PointNet++/DGCNN
    python benchmarks/bench_reldrop_step.py --models pointnet --only-mask
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, make_train_step, print_table, time_interleaved  # noqa: E402

from reldrop3d.masking import make_masker, reldrop_mask  # noqa: E402
from reldrop3d.masking.rules import check_unit_interval  # noqa: E402
from reldrop3d.models import create_model  # noqa: E402
from reldrop3d.train.input_dropout import InputDropout  # noqa: E402

MODELS = ("pointnet", "pointnet2_ssg", "pointnet2_msg", "dgcnn")
KS = (2, 4, 8)
RELEVANCE = dict(method="lrp", start="log_softmax", composite="epsilon-flat")  # training defaults
# CPU batch shapes (batch, points): PointNet at the 32 x 1,024, the others smaller
CPU_SHAPES = {"pointnet": (32, 1024), "pointnet2_ssg": (8, 1024), "pointnet2_msg": (8, 1024),
              "dgcnn": (8, 1024)}
CPU_SHAPES_QUICK = {"pointnet": (32, 1024), "pointnet2_ssg": (8, 512), "pointnet2_msg": (8, 512),
                    "dgcnn": (8, 512)}
GPU_SHAPES = {name: (32, 1024) for name in MODELS}


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


def step_candidates(name: str, batch: int, points: int, classes: int, device: torch.device):
    """The timed callables of one model: plain, fresh, p=0.5, cache build, cache hit."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=classes).to(device)
    x = torch.randn(batch, points, 3, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    index = torch.arange(batch, device=device)
    step = make_train_step(model, x, y)

    def dropout(p=1.0, every=1):
        return InputDropout(make_masker("point", p=p), relevance_every=every, num_samples=batch,
                            **RELEVANCE)

    fresh, half = dropout(), dropout(p=0.5)
    build, hit = dropout(every=max(KS)), dropout(every=max(KS))
    hit(model, x, y, index=index, epoch=0)  # warm: every later call is served from the cache

    def reldrop(d, clear=False):
        def fn():
            if clear:
                d.reset_cache()
            step(d(model, x, y, index=index, epoch=0)[0])

        return fn

    def relevance_alone():
        fresh.explain(model, x, y)

    fns = {
        "plain step": lambda: step(x),
        "RelDrop fresh (K=1)": reldrop(fresh),
        "RelDrop p=0.5": reldrop(half),
        "cache build step": reldrop(build, clear=True),
        "cache hit step": reldrop(hit),
        "relevance alone": relevance_alone,
    }
    return fns, hit


def measure(name, batch, points, args, device) -> dict[str, float]:
    fns, hit = step_candidates(name, batch, points, args.classes, device)
    times = time_interleaved(fns, repeats=args.repeats, warmup=args.warmup, device=device)
    served, computed = hit.cache.take_counts()
    if computed != batch:  # only the warm-up call computed: the timed hits were hits
        raise RuntimeError(f"cache hit step computed relevance {computed - batch} times")
    for k in KS:
        times[f"RelDrop K={k} amortised"] = (times["cache build step"]
                                             + (k - 1) * times["cache hit step"]) / k
    order = ["plain step", "RelDrop fresh (K=1)", *[f"RelDrop K={k} amortised" for k in KS],
             "RelDrop p=0.5", "cache build step", "cache hit step", "relevance alone"]
    return {k: times[k] for k in order}


def summary(results: dict[str, tuple[tuple[int, int], dict[str, float]]], device: torch.device) -> None:
    names = list(results)
    rows = next(iter(results.values()))[1]
    head = "| " + " | ".join(["ratio to plain step"] + [
        f"{n} {b}x{p}" for n, ((b, p), _) in results.items()]) + " |"
    print(f"\nsummary ({device.type}): ratio to the plain step of the same model and batch")
    print(head)
    print("|" + "---|" * (len(names) + 1))
    for row in rows:
        print("| " + " | ".join([row] + [f"{results[n][1][row] / results[n][1]['plain step']:.2f}x"
                                         for n in names]) + " |")
    if device.type == "cuda":
        print("\nabsolute (ms)")
        print(head)
        print("|" + "---|" * (len(names) + 1))
        for row in rows:
            print("| " + " | ".join([row] + [f"{results[n][1][row] * 1e3:.1f}" for n in names]) + " |")


def run_device(device: torch.device, args) -> None:
    shapes = GPU_SHAPES if device.type == "cuda" else (CPU_SHAPES_QUICK if args.quick else CPU_SHAPES)
    print(f"\n== {device.type}: {environment() if device.type == 'cuda' else 'cpu, ' + environment()}")
    results = {}
    for name in args.models:
        b, p = shapes[name]
        if args.batch:
            b = args.batch
        if args.points:
            p = args.points
        times = measure(name, b, p, args, device)
        if device.type == "cuda":
            print_table(f"{name}, batch {b} x {p}, {device}", times, "plain step")
        else:
            print(f"\n{name}, batch {b} x {p}, cpu (ratios to the plain step)")
            for row, t in times.items():
                print(f"  {row:30s} {t / times['plain step']:6.2f}x")
        results[name] = ((b, p), times)
        sys.stdout.flush()
    summary(results, device)


def mask_table(batch: int, points: int) -> None:
    # tiny tensors: one thread, so that thread hand-offs on a busy machine do not dominate
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    r = torch.randn(batch, points)
    mtimes = time_interleaved(
        {
            "vectorised mask": lambda: reldrop_mask(r, 0.5, 0.5),
            "per-sample loop mask": lambda: per_sample_loop_mask(r, 0.5, 0.5),
        },
        repeats=50,
    )
    print_table(f"mask computation, batch {batch} x {points} (cpu, 1 thread)", mtimes, "vectorised mask")
    print(f"\nspeed-up of the vectorised mask: {mtimes['per-sample loop mask'] / mtimes['vectorised mask']:.1f}x")
    torch.set_num_threads(threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--batch", type=int, default=None, help="override every model's batch size")
    ap.add_argument("--points", type=int, default=None, help="override every model's points")
    ap.add_argument("--classes", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=None, help="default 7 (--quick: 5)")
    ap.add_argument("--warmup", type=int, default=None, help="default 2 (--quick: 1)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    ap.add_argument("--quick", action="store_true",
                    help="5 repeats, 1 warm-up, 8 x 512 clouds for PointNet++/DGCNN on the CPU")
    ap.add_argument("--no-gpu", action="store_true", help="skip the GPU rows")
    ap.add_argument("--only-mask", action="store_true", help="only the mask-computation table")
    args = ap.parse_args()
    args.repeats = args.repeats or (5 if args.quick else 7)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    torch.set_num_threads(args.threads)
    if not args.only_mask:
        run_device(torch.device("cpu"), args)
        if torch.cuda.is_available() and not args.no_gpu:
            run_device(torch.device("cuda"), args)
    if not args.quick:
        mask_table(32, 1024)


if __name__ == "__main__":
    main()
