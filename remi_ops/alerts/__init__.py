"""remi_ops/alerts."""
