"""The ``art`` framework: IBM's Adversarial Robustness Toolbox through feint's adapter.

Every ART attack of the catalog is named ``art.NAME``; its options (type, default, doc)
are read from the ART class, its access from what ART asks of the estimator. Importing
this package imports ART, so the catalog loads it only when the framework is needed.
"""

from feint.attacks.art import evasion, extraction, inference

ATTACKS = tuple(evasion.table() + extraction.table() + inference.table())

__all__ = ["ATTACKS"]
