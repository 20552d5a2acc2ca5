"""Model evaluation: `evaluate_model` generates for a prompt set and writes a report (`beatlm eval --model`)."""

from .model_report import evaluate_model

__all__ = ["evaluate_model"]
