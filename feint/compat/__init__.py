"""Compatibility with other tools' target APIs (:mod:`feint.compat.counterfit`)."""
