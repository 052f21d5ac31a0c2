"""remi_ops/logs."""
