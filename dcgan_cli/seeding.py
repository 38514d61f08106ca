"""Independent random streams from one user seed.

seed+1 for one purpose would collide with seed for another, so every stream (weights, noise, each epoch's batch
order, the real subset an evaluation draws) hashes its own name with the seed. Standard library only.
"""

from __future__ import annotations

import hashlib

MAX_SEED = 2**32 - 1  # a user-facing seed: what numpy's RandomState accepts, as in stylegan2-ada


def seed_from(text: str) -> int:
    """63 bits of sha256(text): always a valid torch seed."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def derive_seed(seed: int, purpose: str) -> int:
    """The seed of the stream named `purpose` under the user's `seed`."""
    return seed_from(f"{seed}:{purpose}")
