"""Rendering stored results: console tables, JSON, images."""
