"""remi_ops/watch."""
