"""Evaluation: accuracy, part IoU, occlusion curves and relevance-spread metrics."""

from .classification import evaluate_classifier, predict
from .occlusion import OCCLUSION_ORDERS, occlusion_accuracy, remove_points

__all__ = ["OCCLUSION_ORDERS", "evaluate_classifier", "occlusion_accuracy", "predict", "remove_points"]
