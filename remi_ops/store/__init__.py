"""remi_ops/store."""
