#!/usr/bin/env bash
# Optional accelerated backend: torch-cluster has no wheel for this torch, so it builds from
# source (~8 min the first time; pip's wheel cache makes later installs take seconds).
# A failed build is not fatal: reldrop3d.ops falls back to pure torch.
set -u
PY="$1"; CONSTRAINTS="$2"
if [ "${RELDROP3D_SKIP_TORCH_CLUSTER:-0}" = "1" ]; then exit 0; fi
if "$PY" -c "import torch_cluster" 2>/dev/null; then exit 0; fi
echo "building torch-cluster (optional 'fast' backend; first build takes minutes)..."
MAX_JOBS=${MAX_JOBS:-2} "$PY" -m pip install -q --no-build-isolation -c "$CONSTRAINTS" torch-cluster \
  || echo "WARNING: torch-cluster did not build; the pure-torch neighbourhood ops will be used."
