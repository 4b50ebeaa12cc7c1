"""Torch models of text targets (imported only where a text model is built)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from feint.targets.text import PAD, UNK, Vocabulary

__all__ = ["MeanEmbeddingClassifier"]


class MeanEmbeddingClassifier(torch.nn.Module):
    """The mean of the text's token embeddings, then a linear layer: logits per class.
    A :class:`feint.targets.text.TextModule`."""

    def __init__(self, vocab: Vocabulary, dim: int, classes: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.embedding = torch.nn.Embedding(len(vocab), dim, padding_idx=PAD)
        self.dropout = torch.nn.Dropout(0.2)
        self.out = torch.nn.Linear(dim, classes)

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``(N, L)``, padded with 0, and the mask of real tokens."""
        seqs = [self.vocab.ids(t) or [UNK] for t in texts]
        width = max((len(s) for s in seqs), default=1)
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, : len(s)] = torch.as_tensor(s, dtype=torch.long)
        return ids, ids != PAD

    def forward_embedded(self, vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(vectors.dtype)
        mean = (vectors * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.out(self.dropout(mean))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = ids != PAD if mask is None else mask
        return self.forward_embedded(self.embedding(ids), mask)

    def logits_of(self, texts: Sequence[str]) -> torch.Tensor:
        """Logits of a batch of texts of any lengths, without padding them (a bag of ids)."""
        seqs = [self.vocab.ids(t) or [UNK] for t in texts]
        flat = torch.as_tensor([i for s in seqs for i in s], dtype=torch.long)
        offsets = torch.as_tensor(np.cumsum([0] + [len(s) for s in seqs[:-1]]), dtype=torch.long)
        mean = F.embedding_bag(flat, self.embedding.weight, offsets, mode="mean")
        return self.out(self.dropout(mean))
