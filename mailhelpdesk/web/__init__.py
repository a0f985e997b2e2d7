"""The web panel (Litestar)."""
