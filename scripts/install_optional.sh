#!/usr/bin/env bash
# Optional accelerated backend torch-cluster. It has no wheel for this torch and compiles from
# source (~15 min on a fresh 2-core machine). On CPU it does not pay: reldrop3d's pure-torch knn is
# within 1.3x of it and its FPS is 3-5x faster (docs/ops.md). So it is built only where it pays,
# on a machine with CUDA, or on request (`make fast`, or RELDROP3D_TORCH_CLUSTER=1).
# A failed build is not fatal: reldrop3d.ops falls back to pure torch.
set -u
PY="$1"; CONSTRAINTS="$2"
want="${RELDROP3D_TORCH_CLUSTER:-auto}"
if [ "${RELDROP3D_SKIP_TORCH_CLUSTER:-0}" = "1" ] || [ "$want" = "0" ]; then exit 0; fi
if "$PY" -c "import torch_cluster" 2>/dev/null; then exit 0; fi
if [ "$want" != "1" ]; then
  if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "torch-cluster: not built (no CUDA device; the pure-torch ops are as fast on CPU). 'make fast' builds it."
    exit 0
  fi
fi
echo "building torch-cluster (optional 'fast' backend; the first build takes minutes)..."
MAX_JOBS=${MAX_JOBS:-2} "$PY" -m pip install -q --no-build-isolation -c "$CONSTRAINTS" torch-cluster \
  || echo "WARNING: torch-cluster did not build; the pure-torch neighbourhood ops will be used."
