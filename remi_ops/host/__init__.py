"""remi_ops/host."""
