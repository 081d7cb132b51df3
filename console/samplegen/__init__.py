"""The deterministic sample-workspace generator (real scikit-learn models, contract formats)."""
