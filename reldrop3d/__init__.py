"""reldrop3d: relevance-driven input dropout and explanation-guided regularisation for point clouds.

Subpackages
-----------
data      data sets (embedded ``synthetic``, ModelNet, ShapeNetPart) behind one sample interface
models    model registry: ``create_model(name, **kw)``
ops       neighbourhood ops (kNN, ball query, farthest point sampling) with two backends
explain   relevance: LRP (zennit reference and a fast single-backward path), gradient baselines
masking   RelDrop and baseline dropouts, one mask API for points and images
train     Lightning module, data module and the training entry point
eval      accuracy, occlusion curves and relevance-spread metrics
viz       colour maps and renderers (matplotlib; Open3D when installed)
guidance  explanation-guidance losses (RRR, GradMask, ActDiff, Energy/L1/PPCE, ISNet)
"""

__version__ = "0.1.0"
