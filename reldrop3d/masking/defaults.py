"""The masking defaults, written once; every other default in the package refers to these.

``ALPHA``, ``BETA`` are the RelDrop paper's rule ``alpha * u + (1 - alpha) * R_norm >= 1 - beta``
(alpha = beta = 0.5: the official 3D code's ``config/training_config.yaml``). The erasing numbers are those of the
official 2D code (``2D_Images/run_scripts``, Random Erasing of Zhong et al.): area share
``U(0.02, 0.4)``, aspect ratio log-uniform in ``[0.3, 1/0.3]``, up to 100 draws per image, block
centred on the top-1 and patch on one of the top-5 relevance pixels.
"""

from __future__ import annotations

ALPHA = 0.5  # randomness of the RelDrop rule
BETA = 0.5  # aggressiveness of the RelDrop rule
FILL = "zero"  # what dropped elements become (the paper: zero)
MODE = "point"  # the paper's rule per point
P = 1.0  # share of each batch that is masked
P_PER = "sample"  # p is drawn per sample (block/patch: per batch, as the official 2D code)

RANDOM_MAX_RATIO = 0.875  # PointNet++'s random input dropout: ratio ~ U(0, 0.875) per sample
RANDOM_FILL = "first"  # PointNet++ fills dropped points with a copy of point 0

REGION_K = 32  # region mode: kNN size
REGION_SIZE = 3  # region mode on images: square side in pixels
GRID_PATCH_SIZE = 4  # grid_patch mode: patch side in pixels
DROPBLOCK_SIZE = 3  # dropblock mode: block side in pixels

ERASE_SCALE = (0.02, 0.4)  # erased area as a share of the image (sl, sh)
ERASE_RATIO = (0.3, 1 / 0.3)  # aspect ratio h / w, drawn log-uniformly (r1, 1 / r1)
ERASE_ATTEMPTS = 100  # draws of (area, ratio) until the rectangle fits inside the image
BLOCK_K = 1  # block: centre on the most relevant pixel (training_config.json k_centers_block)
PATCH_K = 5  # patch: area / 5, centred on one of the top-5 pixels (k_patches_patch)
