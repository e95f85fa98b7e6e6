"""Machinery every other layer may use: argument checks, determinism, the one cache, the theme."""
