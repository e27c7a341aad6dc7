"""The statistics engine: pure functions over sufficient statistics, no Django."""
