"""Experiments: what orchestrates several training runs and reports on them.

* :mod:`reldrop3d.experiments.compare` -- input-dropout variants x seeds on one data set
  (``reldrop3d compare``);
* :mod:`reldrop3d.experiments.stats` -- differences with paired t / bootstrap intervals and
  verdicts (used by ``compare``);
* :mod:`reldrop3d.experiments.bias` -- the guidance bias benchmark, every guidance loss against
  a shortcut (``reldrop3d bias-benchmark``).

This is the top library layer: it may use everything below (data, models, masking, explain,
guidance, train, eval); nothing below imports it.
"""
