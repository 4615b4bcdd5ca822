"""The KV cache shared by every running sequence: one (rows, kv_heads, width, head_size) array per layer and side.

Row i holds sequence i's keys/values at positions [0, length_i) (right padding). The decode step binds rows
[0, n) of every array as both the model's past and present (GroupQueryAttention writes the new token in place
at position length_i, see decoder.py), so nothing is copied per token. Arrays grow lazily, rows by doubling and
width in WIDTH_STEP chunks, because GroupQueryAttention's CPU kernel costs time in proportion to the buffer
width, not only to the lengths; a join or a leave moves at most one row.

Budget: `budget_tokens` bounds rows x width, the memory actually allocated. A sequence reserves its prompt
plus max_tokens; `fits` admits a set of reservations only if n rows of the widest reservation fit, so no
sequence ever runs out of room once admitted. The HTTP process applies the same rule before it submits a
request (engine_client.py) and answers 503 + Retry-After when the budget is taken.
"""

from __future__ import annotations

import numpy as np

WIDTH_STEP = 128


def fits(reservations: list[int], max_rows: int, budget_tokens: int, max_length: int) -> bool:
    """Whether sequences reserving these token counts (prompt + max_tokens) can all run at once."""
    if not reservations:
        return True
    widest = max(reservations)
    return (len(reservations) <= max_rows and widest <= max_length
            and len(reservations) * min(widest, max_length) <= budget_tokens)


class KVCache:
    def __init__(self, layers: int, kv_heads: int, head_size: int, dtype: np.dtype, max_rows: int,
                 budget_tokens: int, max_length: int) -> None:
        if budget_tokens < 1 or max_rows < 1:
            raise ValueError("budget_tokens and max_rows must be >= 1")
        self.layers, self.kv_heads, self.head_size, self.dtype = layers, kv_heads, head_size, np.dtype(dtype)
        self.max_rows = max_rows
        self.budget_tokens = budget_tokens
        self.max_length = min(max_length, budget_tokens)  # the longest sequence that can ever fit
        self.rows = 0
        self.width = 0
        self.keys: list[np.ndarray] = []
        self.values: list[np.ndarray] = []

    @property
    def bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_size * self.dtype.itemsize

    @property
    def allocated_tokens(self) -> int:
        return self.rows * self.width

    def width_for(self, length: int) -> int:
        return min(self.max_length, -(-length // WIDTH_STEP) * WIDTH_STEP)

    def cap_for(self, widest_reservation: int) -> int:
        """The widest the arrays need to be while these sequences run: their longest possible length."""
        return min(self.max_length, widest_reservation)

    def fits(self, reservations: list[int]) -> bool:
        return fits(reservations, self.max_rows, self.budget_tokens, self.max_length)

    def ensure(self, rows: int, length: int, lengths: list[int], widest_reservation: int) -> None:
        """Make room for `rows` rows of at least `length` positions; rows [0, len(lengths)) keep their content."""
        if rows <= self.rows and length <= self.width:
            return
        wanted = self.width if length <= self.width else max(self.width_for(length), 2 * self.width)
        width = min(self.cap_for(widest_reservation), wanted)  # admission keeps rows x this within budget
        new_rows = self.rows if rows <= self.rows else min(self.max_rows, max(rows, 2 * self.rows))
        new_rows = max(rows, min(new_rows, self.budget_tokens // width))
        self._reallocate(new_rows, width, lengths)

    def shrink(self, lengths: list[int], widest_reservation: int) -> None:
        """Give memory back when the batch became much smaller or narrower than what is allocated."""
        if not lengths:
            self.clear()
            return
        width = self.cap_for(widest_reservation)
        rows = len(lengths)
        if width * 2 <= self.width or (rows * 4 <= self.rows and self.rows > 4):
            self._reallocate(max(rows, min(self.rows, 2 * rows)), min(self.width, width), lengths)

    def move(self, source: int, target: int, length: int) -> None:
        """Copy row `source` (its first `length` positions) into row `target`."""
        for array in (*self.keys, *self.values):
            array[target, :, :length] = array[source, :, :length]

    def batch(self, rows: slice) -> list[np.ndarray]:
        """Per layer, the key then the value view of these rows: contiguous, bindable as past and present."""
        views = []
        for key, value in zip(self.keys, self.values):
            views += [key[rows], value[rows]]
        return views

    def clear(self) -> None:
        self.keys, self.values, self.rows, self.width = [], [], 0, 0

    def _reallocate(self, rows: int, width: int, lengths: list[int]) -> None:
        used = max(lengths, default=0)
        keep = min(len(lengths), self.rows, rows)  # a row just joining has nothing to keep yet
        shape = (rows, self.kv_heads, width, self.head_size)
        keys, values = [], []
        for old_key, old_value in zip(self.keys or [None] * self.layers, self.values or [None] * self.layers):
            key, value = np.zeros(shape, self.dtype), np.zeros(shape, self.dtype)
            if old_key is not None and keep:
                key[:keep, :, :used] = old_key[:keep, :, :used]
                value[:keep, :, :used] = old_value[:keep, :, :used]
            keys.append(key)
            values.append(value)
        self.keys, self.values, self.rows, self.width = keys, values, rows, width
