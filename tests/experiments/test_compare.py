"""``reldrop3d compare``: protocol configuration and presets, differences with intervals and
verdicts, outputs, progress lines, and tiny end-to-end runs (reuse, re-evaluation, parallel jobs)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from reldrop3d.commands import compare as compare_cmd
from reldrop3d.eval.occlusion_report import curve_auc
from reldrop3d.experiments.compare import (
    METRIC_NAMES,
    METRICS,
    VARIANTS,
    CompareConfig,
    Progress,
    add_mce_vs_baseline,
    corruption_table,
    decode_bits,
    differences,
    encode_bits,
    load_finished,
    markdown_table,
    mean_std,
    per_shape_values,
    read_eval,
    run_compare,
    summarize,
    train_config,
    trapezoid_weights,
    write_outputs,
)
from reldrop3d.utils.config import ConfigError

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def fake_results(seeds=(0, 1, 2), fractions=(0.0, 0.5)):
    out = {}
    for i, v in enumerate(VARIANTS):
        out[v] = {}
        for s in seeds:
            r = {m: 0.5 + 0.1 * i + 0.01 * s for m in METRICS}
            r["curves"] = {o: [0.9, 0.5 - 0.01 * s] for o in ("most", "least", "random")}
            out[v][s] = r
    return out


def test_mean_std_and_table():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_std([4.0]) == (4.0, 0.0)
    summary = summarize(fake_results())
    assert summary["baseline"]["accuracy"] == pytest.approx((0.51, 0.01))
    table = markdown_table(summary, (0, 1, 2))
    i = list(VARIANTS).index("reldrop_region")  # fake_results: 0.5 + 0.1 i + 0.01 seed
    assert f"| reldrop_region | {0.51 + 0.1 * i:.3f} ± 0.010 |" in table
    assert "3 seed(s)" in table
    assert "mean corruption error (raw)" in table and "not normalised" in table


def test_differences_paired_over_seeds_and_one_verdict_line_per_variant_and_metric():
    results = fake_results()
    # reldrop_point: +0.2 +- 0.01 over the seeds for the scores (better), and on the errors
    # (worse); random: differences 0.05, -0.05, 0.0 (no detectable difference)
    for s in (0, 1, 2):
        results["random"][s] = dict(results["baseline"][s])
        results["random"][s]["accuracy"] += (0.05, -0.05, 0.0)[s]
        for m in METRICS:
            results["reldrop_point"][s][m] += (0.0, 0.01, -0.01)[s]
    cfg = CompareConfig(variants=tuple(VARIANTS), robustness=True)
    diffs = differences(results, cfg)
    assert set(diffs) == set(VARIANTS) - {"baseline"}
    d = diffs["reldrop_point"]["accuracy"]
    assert d.mean == pytest.approx(0.2) and d.verdict == "better" and "paired t over 3" in d.method
    assert diffs["reldrop_point"]["mce"].verdict == "worse"  # a higher error is worse
    r = diffs["random"]["accuracy"]
    assert r.mean == pytest.approx(0.0, abs=1e-12) and r.verdict == "no detectable difference"
    assert r.low == pytest.approx(-4.302653 * 0.05 / 3 ** 0.5, abs=1e-6)
    table = markdown_table(summarize(results), (0, 1, 2), diffs)
    for v in ("random", "reldrop_point", "reldrop_region"):
        for m in METRICS:
            rows = [line for line in table.splitlines()
                    if line.startswith(f"| {v} | {METRIC_NAMES[m]} |")]
            assert len(rows) == 1, (v, m)
            assert rows[0].rstrip(" |").endswith(("better", "worse", "no detectable difference"))
    half = 4.302653 * 0.01 / 3 ** 0.5
    assert f"| reldrop_point | clean OA | +0.200 | [{0.2 - half:+.3f}, {0.2 + half:+.3f}] | better |" \
        in table
    # no baseline run: no differences, said so
    no_base = {v: r for v, r in results.items() if v != "baseline"}
    assert differences(no_base, cfg) == {}
    assert "was not among the variants" in markdown_table(summarize(no_base), (0,), {})


def test_the_same_difference_in_every_seed_is_judged_by_the_sign_test_not_a_zero_width_t():
    # 23 test shapes: accuracy moves in steps of 1/23; each seed loses exactly one shape. The t
    # interval [-1/23, -1/23] has no width; three seeds all below 0 only give sign-test p = 0.25.
    results = fake_results()
    for s in results["reldrop_point"]:
        results["reldrop_point"][s] = dict(results["baseline"][s])
        results["reldrop_point"][s]["accuracy"] = results["baseline"][s]["accuracy"] - 1 / 23
    cfg = CompareConfig(variants=("baseline", "reldrop_point"))
    d = differences(results, cfg)["reldrop_point"]["accuracy"]
    assert d.mean == pytest.approx(-1 / 23) and d.low == pytest.approx(d.high)
    assert d.verdict == "no detectable difference"
    assert "sign test" in d.method and "p = 0.25" in d.method
    table = markdown_table(summarize(results), (0, 1, 2), differences(results, cfg))
    assert "| reldrop_point | clean OA | -0.043 | [-0.043, -0.043] (same in every seed) | " \
        "no detectable difference |" in table
    assert "exact sign test" in table
    # no difference at all stays "no detectable difference" with the plain t method
    assert differences(results, cfg)["reldrop_point"]["mce"].method == "paired t over 3 seeds"
    # six seeds all one shape down: p = 2 / 64 < 0.05, so "worse"
    six = fake_results(seeds=range(6))
    for s in six["reldrop_point"]:
        six["reldrop_point"][s] = dict(six["baseline"][s])
        six["reldrop_point"][s]["accuracy"] = six["baseline"][s]["accuracy"] - 1 / 23
    d6 = differences(six, cfg)["reldrop_point"]["accuracy"]
    assert d6.verdict == "worse" and "p = 0.031" in d6.method


def _per_shape(correct, labels, fractions):
    correct = np.asarray(correct, bool)
    return {"labels": list(labels), "predictions": [], "correct": encode_bits(correct),
            "occlusion": {o: [encode_bits(correct)] + [encode_bits(np.zeros_like(correct))]
                          * (len(fractions) - 1) for o in ("most", "least", "random")},
            "corruptions": {"dropout_local": [encode_bits(correct), encode_bits(~correct)],
                            "jitter": [encode_bits(correct), encode_bits(correct)]}}


def test_per_shape_values_reproduce_the_metrics():
    fractions = (0.0, 0.2, 0.5)
    rng = np.random.default_rng(0)
    correct = rng.random(50) < 0.7
    ps = _per_shape(correct, rng.integers(0, 3, 50), fractions)
    assert np.array_equal(decode_bits(encode_bits(correct)), correct)
    acc = correct.mean()
    assert per_shape_values(ps, fractions, "accuracy").mean() == pytest.approx(acc)
    # the mean of per-shape AUCs is the AUC of the mean curve
    assert per_shape_values(ps, fractions, "auc_most").mean() == pytest.approx(
        curve_auc(fractions, [acc, 0.0, 0.0]))
    assert trapezoid_weights([0.0, 0.2, 0.5]) == pytest.approx([0.1, 0.25, 0.15])
    # dropout_local: errors (1 - acc) and acc over its two severities -> 0.5 for every shape
    assert per_shape_values(ps, fractions, "dropout_local_error") == pytest.approx(np.full(50, 0.5))
    assert per_shape_values(ps, fractions, "mce").mean() == pytest.approx((0.5 + 1 - acc) / 2)


def test_single_seed_differences_bootstrap_over_test_shapes():
    fractions = (0.0, 0.5)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 400)
    u = rng.random(400)
    good, bad = u < 0.9, u < 0.6
    results = {}
    for v, c in (("baseline", bad), ("reldrop_point", good)):
        ps = _per_shape(c, labels, fractions)
        r = {m: float(per_shape_values(ps, fractions, m).mean()) for m in METRICS}
        r["mean_class_accuracy"] = float(np.mean([c[labels == k].mean() for k in range(4)]))
        results[v] = {0: {**r, "per_shape": ps, "curves": {}}}
    cfg = CompareConfig(seeds=(0,), variants=("baseline", "reldrop_point"), fractions=fractions,
                        robustness=True, n_boot=500)
    diffs = differences(results, cfg)["reldrop_point"]
    acc = diffs["accuracy"]
    assert "bootstrap over 400 test shapes" in acc.method
    assert acc.mean == pytest.approx(good.mean() - bad.mean()) and acc.low > 0
    assert acc.verdict == "better"
    macc = diffs["mean_class_accuracy"]
    assert macc.mean == pytest.approx(results["reldrop_point"][0]["mean_class_accuracy"]
                                      - results["baseline"][0]["mean_class_accuracy"])
    assert diffs["mce"].verdict == "better"  # fewer errors
    assert diffs["dropout_local_error"].verdict == "no detectable difference"  # 0.5 on both


def _wrong(m: int, k: int) -> str:
    """Bits of m shapes, the first k wrong."""
    return encode_bits(np.arange(m) >= k)


def _robust_run(wrong_per_severity: dict[str, tuple[int, ...]], m: int = 100) -> dict:
    """A run whose per-shape corruption results make the given numbers of errors."""
    return {"per_shape": {"correct": _wrong(m, 0), "labels": [0] * m,
                          "corruptions": {c: [_wrong(m, k) for k in ks]
                                          for c, ks in wrong_per_severity.items()}}}


def test_mce_vs_baseline_is_modelnet_c_mce_with_the_same_seed_baseline_as_reference():
    # per seed s: the baseline errs on 40 + s and 60 jitter shapes (two severities), on 50 and 50
    # dropout_local shapes; reldrop_point on 20 and 30 jitter shapes, on 50 and 50 dropout_local
    results = {"baseline": {s: _robust_run({"jitter": (40 + s, 60), "dropout_local": (50, 50)})
                            for s in (0, 1, 2)},
               "reldrop_point": {s: _robust_run({"jitter": (20, 30), "dropout_local": (50, 50)})
                                 for s in (0, 1, 2)}}
    cfg = CompareConfig(variants=("baseline", "reldrop_point"), robustness=True,
                        severities=(1, 2))
    add_mce_vs_baseline(results, cfg)
    for s in (0, 1, 2):
        # CE(jitter) = (20 + 30) / (40 + s + 60), CE(dropout_local) = 1; mCE = their mean
        expected = ((20 + 30) / (100 + s) + 1.0) / 2
        assert results["reldrop_point"][s]["mce_vs_baseline"] == pytest.approx(expected)
        assert results["baseline"][s]["mce_vs_baseline"] == pytest.approx(1.0)
    d = differences(results, cfg, metrics=("mce_vs_baseline",))["reldrop_point"]["mce_vs_baseline"]
    per_seed = [((50 / (100 + s)) + 1) / 2 - 1 for s in (0, 1, 2)]
    assert d.mean == pytest.approx(np.mean(per_seed)) and "paired t over 3 seeds" in d.method
    assert d.verdict == "better"  # lower is better, the whole interval below 0
    table = markdown_table(summarize(results, ("mce_vs_baseline",)), (0, 1, 2),
                           {"reldrop_point": {"mce_vs_baseline": d}})
    assert "| reldrop_point | mCE (ref. baseline) |" in table and "same seed" in table
    # one seed: the ratio has no interval (it is not a mean over test shapes)
    one = {v: {0: per_seed[0]} for v, per_seed in results.items()}
    d1 = differences(one, CompareConfig(seeds=(0,), variants=("baseline", "reldrop_point"),
                                        robustness=True, severities=(1, 2)),
                     metrics=("mce_vs_baseline",))["reldrop_point"]["mce_vs_baseline"]
    assert d1.verdict == "n/a (needs >= 2 seeds)" and np.isnan(d1.low)
    assert d1.mean == pytest.approx(per_seed[0])


def test_mce_vs_baseline_needs_the_baseline_and_the_corruption_results():
    cfg = CompareConfig(variants=("baseline", "reldrop_point"), robustness=True, severities=(1,))
    no_base = {"reldrop_point": {0: _robust_run({"jitter": (3,)})}}
    assert "mce_vs_baseline" not in add_mce_vs_baseline(no_base, cfg)["reldrop_point"][0]
    missing_seed = {"baseline": {0: _robust_run({"jitter": (3,)})},
                    "reldrop_point": {1: _robust_run({"jitter": (3,)})}}
    add_mce_vs_baseline(missing_seed, cfg)
    assert all("mce_vs_baseline" not in r for per in missing_seed.values() for r in per.values())


def test_progress_lines_estimate_the_time_left():
    lines = []
    p = Progress(total=4, jobs=2, log=lines.append)
    p.finished("baseline", 0, {"accuracy": 0.5}, None)
    p.finished("reldrop_point", 1, {"accuracy": 0.812}, 142.0)
    p.finished("baseline", 1, {"accuracy": 0.7}, 158.0)
    p.finished("random", 0, {"accuracy": 0.6}, 30.0)
    assert lines[0] == "[1/4] baseline seed 0: acc 0.500, reused; 3 to go"
    assert lines[1] == "[2/4] reldrop_point seed 1: acc 0.812, 142 s; about 2 min left"
    assert lines[2] == "[3/4] baseline seed 1: acc 0.700, 158 s; about 75 s left"
    assert lines[3].endswith("30 s; done")


def test_write_outputs(tmp_path):
    cfg = CompareConfig(out=str(tmp_path), fractions=(0.0, 0.5))
    table = write_outputs(cfg, fake_results())
    assert (tmp_path / "results.md").read_text().endswith(table)
    rows = list(csv.reader(open(tmp_path / "results.csv")))
    assert rows[0] == ["variant", "seed", *METRICS] and len(rows) == 1 + len(VARIANTS) * 3
    assert len(list(csv.reader(open(tmp_path / "curves.csv")))) == 1 + len(VARIANTS) * 3 * 3
    diff_rows = list(csv.reader(open(tmp_path / "differences.csv")))
    assert len(diff_rows) == 1 + (len(VARIANTS) - 1) * len(METRICS)
    assert {r[5] for r in diff_rows[1:]} <= {"better", "worse", "no detectable difference"}
    assert "Difference to `baseline`" in table and "Budget: pointnet on synthetic" in table
    for png in ("occlusion_curves.png", "metrics.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_per_corruption_table_and_csv(tmp_path):
    results = fake_results(seeds=(0, 1))
    for i, v in enumerate(results):
        for s, r in results[v].items():
            # jitter: 0.1 i + 0.1 s at severities (1, 3), mean 0.1 i + 0.1 s + 0.05
            r["corruption_errors"] = {"jitter": [0.1 * i + 0.1 * s, 0.1 * i + 0.1 * s + 0.1],
                                      "add_global": [0.5, 0.5]}
    cfg = CompareConfig(out=str(tmp_path), fractions=(0.0, 0.5), severities=(1, 3))
    table = corruption_table(results, cfg.severities)
    assert table.startswith("Error per corruption (1 - OA, mean over severities 1, 3)")
    assert "| variant | jitter | add_global |" in table
    i = list(VARIANTS).index("reldrop_point")
    # seeds 0 and 1: means 0.1 i + 0.05 and 0.1 i + 0.15 -> mean 0.1 i + 0.1, sample std 0.0707
    assert f"| reldrop_point | {0.1 * i + 0.1:.3f} ± 0.071 | 0.500 ± 0.000 |" in table
    written = write_outputs(cfg, results)
    assert table in written and table in (tmp_path / "results.md").read_text()
    rows = list(csv.reader(open(tmp_path / "corruptions.csv")))
    assert rows[0] == ["variant", "seed", "corruption", "severity 1", "severity 3"]
    assert len(rows) == 1 + len(VARIANTS) * 2 * 2
    assert ["reldrop_point", "1", "jitter", f"{0.1 * i + 0.1:.6f}", f"{0.1 * i + 0.2:.6f}"] in rows
    # without corruption results: no table, no file
    assert corruption_table(fake_results(), (1,)) == ""
    other = tmp_path / "clean_only"
    write_outputs(CompareConfig(out=str(other), fractions=(0.0, 0.5)), fake_results())
    assert not (other / "corruptions.csv").exists()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"config": [], "result": {}}',
                                  '{"config": {}, "result": 3}', '{"config": {}}', "\x00\xff"])
def test_a_malformed_eval_json_is_never_trusted(tmp_path, text):
    cfg = CompareConfig(out=str(tmp_path))
    path = tmp_path / "runs" / "baseline" / "seed0" / "eval.json"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="latin-1")
    assert read_eval(path) is None
    assert load_finished(cfg, "baseline", 0) is None
    # the form run_one writes is read back; other settings are not reused
    path.write_text(json.dumps({"config": {"seed": 0}, "protocol": {}, "result": {"accuracy": 1}}))
    assert read_eval(path)["result"] == {"accuracy": 1}
    assert load_finished(cfg, "baseline", 0) is None


def test_train_config_same_seed_per_variant(tmp_path):
    cfg = CompareConfig(out=str(tmp_path), epochs=2, train={"model": "pointnet", "beta": 0.3})
    configs = {v: train_config(cfg, v, 7) for v in VARIANTS}
    assert {c.seed for c in configs.values()} == {7}
    assert configs["baseline"].augment == "none" and configs["random"].augment == "random"
    assert configs["reldrop_region"].mask_mode == "region"
    assert configs["reldrop_point"].beta == 0.3
    assert len({c.out for c in configs.values()}) == len(VARIANTS)


def test_bad_config():
    with pytest.raises(ValueError, match="unknown variants"):
        CompareConfig(variants=("nope",))
    with pytest.raises(ValueError, match="distinct"):
        CompareConfig(seeds=(1, 1))
    with pytest.raises(ValueError, match="fractions"):
        CompareConfig(fractions=(0.0, 1.0))
    with pytest.raises(ValueError, match="jobs"):
        CompareConfig(jobs=0)
    with pytest.raises(ValueError, match="severities"):
        CompareConfig(severities=(0, 3))
    with pytest.raises(ValueError, match="baseline"):
        CompareConfig(baseline="nope")
    with pytest.raises(ValueError, match="corruption"):
        CompareConfig(robustness=True, corruptions=("fog",))
    assert "dropout_local_error" not in CompareConfig(robustness=True,
                                                      corruptions=("jitter",)).metrics
    assert "mce" not in CompareConfig(robustness=False).metrics


def parse(argv):
    p = argparse.ArgumentParser()
    compare_cmd.add_arguments(p)
    return p.parse_args(argv)


def test_cli_quick_defaults():
    cfg = compare_cmd.config_from_args(parse(["--quick", "--epochs", "2", "--out", "x"]))
    assert cfg.train["num_points"] == 256 and cfg.epochs == 2 and cfg.seeds == (0, 1, 2)
    assert cfg.train["data_kwargs"]["num_shapes"]["train"] == 330
    assert cfg.fractions == (0.0, 0.2, 0.4, 0.6, 0.8) and cfg.robustness is False
    cfg = compare_cmd.config_from_args(parse(["--quick", "--num-points", "128", "--fractions",
                                              "0", "0.5", "--robustness", "--severities", "1", "5"]))
    assert cfg.train["num_points"] == 128 and cfg.fractions == (0.0, 0.5)
    assert cfg.robustness is True and cfg.severities == (1, 5)
    cfg = compare_cmd.config_from_args(parse([]))
    assert cfg.robustness is True and cfg.epochs == 10 and "num_points" not in cfg.train
    assert train_config(cfg, "baseline", 0).num_points == 1024  # TrainConfig's default


def test_cli_config_file_and_flags_override(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("seeds: [3, 4]\nepochs: 2\nmodel: pointnet\nalpha: 0.25\njobs: 2\n"
                 "severities: [1, 3]\ntrain_kwargs: {weight_decay: 0.0}\n")
    cfg = compare_cmd.config_from_args(parse(["--config", str(f), "--epochs", "3"]))
    assert cfg.seeds == (3, 4) and cfg.epochs == 3 and cfg.jobs == 2 and cfg.severities == (1, 3)
    tc = train_config(cfg, "reldrop_point", 3)
    assert tc.alpha == 0.25 and tc.weight_decay == 0.0 and tc.seed == 3 and tc.epochs == 3
    f.write_text("sedes: [1]\n")
    with pytest.raises(ConfigError, match=r"c.yaml: unknown key 'sedes'"):
        compare_cmd.config_from_args(parse(["--config", str(f)]))
    f.write_text("epochs: many\n")
    with pytest.raises(ConfigError, match="epochs must be int"):
        compare_cmd.config_from_args(parse(["--config", str(f)]))
    with pytest.raises(ConfigError, match="seed.*per run"):
        compare_cmd.config_from_args(parse(["--train-kw", "seed=3"]))
    with pytest.raises(ConfigError, match="unknown TrainConfig key"):
        compare_cmd.config_from_args(parse(["--train-kw", "learning_rate=3"]))


def test_presets_resolve():
    cpu = compare_cmd.config_from_args(parse(["--config", str(REPO_CONFIGS / "compare_cpu_hour.yaml")]))
    tc = train_config(cpu, "reldrop_point", 0)
    assert tc.num_points == 512 and cpu.epochs == 8 and tc.model == "pointnet"
    assert cpu.seeds == (0, 1, 2) and cpu.robustness and tc.accelerator == "cpu"
    assert "baseline" in cpu.variants and "reldrop_point" in cpu.variants
    gpu = compare_cmd.config_from_args(parse(["--config", str(REPO_CONFIGS / "compare_paper_gpu.yaml")]))
    tc = train_config(gpu, "reldrop_point", 1)
    # the official protocol (configs/reldrop_paper_modelnet40.yaml), 100 epochs as their code
    assert (tc.data, tc.model, tc.num_points, tc.use_normals) == ("modelnet40", "pointnet2_msg",
                                                                  1024, True)
    assert gpu.epochs == 100 and tc.lrp_composite == "reldrop-official" and tc.batch_size == 32
    assert tc.accelerator == "gpu" and gpu.robustness and gpu.severities == (1, 2, 3, 4, 5)
    assert train_config(gpu, "baseline", 1).augment == "none"  # the variant wins over the preset
    # any flag overrides the preset
    over = compare_cmd.config_from_args(parse(["--config", str(REPO_CONFIGS / "compare_paper_gpu.yaml"),
                                               "--epochs", "5", "--accelerator", "cpu"]))
    assert over.epochs == 5 and train_config(over, "baseline", 0).accelerator == "cpu"


TINY = dict(num_points=64, batch_size=8, max_steps_per_epoch=2,
            data_kwargs={"num_shapes": {"train": 22, "val": 11, "test": 22}})


def epoch_metric(run, key):
    """``{epoch: value}`` of an epoch-level metric in a training run's metrics.csv."""
    rows = csv.DictReader(open(run / "metrics.csv"))
    return {int(r["epoch"]): float(r[key]) for r in rows if r.get(key)}


@pytest.mark.slow
def test_tiny_end_to_end_and_reuse(tmp_path):
    cfg = CompareConfig(out=str(tmp_path), seeds=(0, 1), variants=("baseline", "reldrop_region"),
                        epochs=2, train=TINY, fractions=(0.0, 0.5), robustness=True,
                        corruptions=("jitter", "dropout_local"), severities=(1,),
                        cache_dir=str(tmp_path / "cache"))
    results, table = run_compare(cfg, log=lambda *_: None)
    for v in cfg.variants:
        for s in cfg.seeds:
            r, run = results[v][s], tmp_path / "runs" / v / f"seed{s}"
            assert set(r["curves"]) == {"most", "least", "random"}
            stored = json.loads((run / "eval.json").read_text())
            assert stored["result"]["accuracy"] == r["accuracy"]
            ps = stored["result"]["per_shape"]
            correct = decode_bits(ps["correct"])
            assert len(correct) == 22 and correct.mean() == pytest.approx(r["accuracy"])
            assert np.array_equal(correct, np.asarray(ps["predictions"]) == ps["labels"])
            # every occlusion curve starts at the clean accuracy (two code paths, one number)
            assert [c[0] for c in r["curves"].values()] == pytest.approx([r["accuracy"]] * 3)
            assert r["dropout_local_error"] == pytest.approx(r["corruption_errors"]["dropout_local"][0])
            assert r["mce"] == pytest.approx(np.mean([e[0] for e in r["corruption_errors"].values()]))
            drop = epoch_metric(run, "train_drop_rate")
            if v == "baseline":
                # learning happened (4 steps: too few to leave chance on the test split, enough
                # for the training loss; seeds 0/1/2 fall by 0.41/0.78/0.46)
                loss = epoch_metric(run, "train_loss_epoch")
                assert loss[1] < loss[0] - 0.2, loss
                assert not drop  # the baseline masks nothing
            else:  # the variant really masks: region RelDrop drops a share of every batch
                assert sorted(drop) == [0, 1] and min(drop.values()) > 0.05, drop
    assert "| reldrop_region | dropout-local error |" in table
    logs = []
    again, _ = run_compare(cfg, log=logs.append)  # finished runs are reused, not retrained
    assert [line.split(":")[0] for line in logs] == [
        "[1/4] baseline seed 0", "[2/4] baseline seed 1", "[3/4] reldrop_region seed 0",
        "[4/4] reldrop_region seed 1"]
    assert all("reused" in line for line in logs) and again == results
    # only the evaluation changed: re-evaluated from the checkpoint, not retrained
    cfg.fractions = (0.0, 0.25, 0.5)
    logs = []
    run_compare(cfg, log=logs.append)
    assert sum("re-evaluating" in line for line in logs) == 4
    assert not any("training" in line for line in logs)


@pytest.mark.slow
def test_parallel_jobs_give_the_same_results(tmp_path):
    kw = dict(seeds=(0,), variants=("baseline", "reldrop_point"), epochs=1, train=TINY,
              fractions=(0.0, 0.5))
    seq, _ = run_compare(CompareConfig(out=str(tmp_path / "seq"), **kw), log=lambda *_: None)
    logs = []
    par, table = run_compare(CompareConfig(out=str(tmp_path / "par"), jobs=2, **kw),
                             log=logs.append)
    assert any("2 processes" in line for line in logs)
    assert sorted(line.split(":")[0][:5] for line in logs if line[1].isdigit()) == [
        "[1/2]", "[2/2]"]
    for v in kw["variants"]:
        a = json.loads((tmp_path / "seq" / "runs" / v / "seed0" / "eval.json").read_text())
        b = json.loads((tmp_path / "par" / "runs" / v / "seed0" / "eval.json").read_text())
        assert a["result"] == b["result"] and seq[v][0] == par[v][0]
    # one seed: the differences are a bootstrap over the test shapes
    assert "paired bootstrap over 22 test shapes" in table
