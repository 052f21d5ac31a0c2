"""remi_ops/checks."""
