"""Per-request token choice from one row of logits: greedy, or temperature / top-k / top-p with its own seed.

Each request owns a numpy Generator (seeded from `seed` when given), so its draws do not depend on which
other requests share the batch: same seed and parameters, same text.
"""

from __future__ import annotations

import numpy as np

from .engine import Sampling

# top-p first looks at this many best tokens; the full vocabulary is sorted only when they hold < top_p.
TOP_P_CANDIDATES = 1024


class Sampler:
    def __init__(self, sampling: Sampling, suppress: list[int]) -> None:
        self.s = sampling
        self.rng = np.random.default_rng(sampling.seed)
        self.suppress = np.asarray(suppress, dtype=np.int64)  # never chosen (EOS under ignore_eos)

    @property
    def greedy(self) -> bool:
        return self.s.temperature <= 0

    def choose(self, logits: np.ndarray) -> int:
        if self.suppress.size:
            logits = logits.copy()
            logits[self.suppress] = -np.inf
        if self.greedy:
            return int(np.argmax(logits))
        scores = logits.astype(np.float64) / self.s.temperature
        if self.s.top_p >= 1.0 and not 0 < self.s.top_k < scores.shape[0]:  # plain softmax: no ranking needed
            weights = np.exp(scores - scores.max())
            return int(self.rng.choice(scores.shape[0], p=weights / weights.sum()))
        candidates, mass = self._candidates(scores)
        probs = np.exp(scores[candidates] - scores[candidates[0]]) / mass
        if self.s.top_p < 1.0:  # the smallest head of the ranking that holds top_p of the mass
            keep = min(len(probs), int(np.searchsorted(np.cumsum(probs), self.s.top_p)) + 1)
            candidates, probs = candidates[:keep], probs[:keep]
        return int(candidates[self.rng.choice(len(candidates), p=probs / probs.sum())])

    def _candidates(self, scores: np.ndarray) -> tuple[np.ndarray, float]:
        """Token ids in descending score order (the top_k best, or enough of the best to cover top_p) and the
        softmax mass of the tokens in play (relative to the best one's)."""
        size = scores.shape[0]
        k = self.s.top_k if 0 < self.s.top_k < size else size
        if k < size:
            best = np.argpartition(-scores, k - 1)[:k]
            best = best[np.argsort(-scores[best], kind="stable")]
            return best, float(np.exp(scores[best] - scores[best[0]]).sum())
        if self.s.top_p < 1.0 and size > TOP_P_CANDIDATES:
            best = np.argpartition(-scores, TOP_P_CANDIDATES - 1)[:TOP_P_CANDIDATES]
            best = best[np.argsort(-scores[best], kind="stable")]
            weights = np.exp(scores - scores[best[0]])
            mass = float(weights.sum())
            if weights[best].sum() >= self.s.top_p * mass:
                return best, mass
        ranked = np.argsort(-scores, kind="stable")
        return ranked, float(np.exp(scores - scores[ranked[0]]).sum())
