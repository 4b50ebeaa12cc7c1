"""Loaders for the demo data that installed packages ship (nothing is downloaded)."""
