"""Timing helpers shared by the benchmark scripts: interleaved repeats, medians, ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from reldrop3d.utils.allocator import tune_malloc

tune_malloc()  # as the reldrop3d command does: benchmarks time what users run


def sync(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int = 10, warmup: int = 2, device="cpu"
) -> dict[str, float]:
    """Median seconds per call of each function, measured round-robin so that load changes on
    the machine hit all candidates alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
            sync(device)
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def print_table(title: str, times: dict[str, float], baseline: str, unit: str = "ms") -> None:
    scale = 1e3 if unit == "ms" else 1.0
    print(f"\n{title}")
    print(f"{'':34s} {'median ' + unit:>12s} {'ratio to ' + baseline:>20s}")
    for name, t in times.items():
        print(f"{name:34s} {t * scale:12.2f} {t / times[baseline]:20.2f}x")


def environment() -> str:
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {dev}"


def make_train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float = 1e-3):
    """A closure running one Adam training step of ``model`` on ``(x, y)``; its argument
    replaces ``x`` (e.g. a masked batch)."""
    opt = torch.optim.Adam(model.parameters(), lr)

    def step(inp: torch.Tensor | None = None) -> None:
        model.train()
        loss = torch.nn.functional.cross_entropy(model(x if inp is None else inp), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step
