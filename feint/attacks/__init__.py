"""Attacks: catalog entries with typed parameters and batched implementations."""

from feint.attacks.base import Attack, AttackOutput, Batch
from feint.attacks.catalog import attacks, frameworks, get_attack

__all__ = ["Attack", "AttackOutput", "Batch", "attacks", "frameworks", "get_attack"]
