"""remi_ops/cli."""
