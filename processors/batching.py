"""The device-state store as the pipeline sees it during a batch: writes kept in memory and written
to the Faust table once per device when the batch is done (processors.app).

A table write is a changelog message; a device sending ten frames in one batch needs one, not ten.
Reads see the batch's own writes first, so the pipeline behaves exactly as over the table itself.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping


class WriteBehind(MutableMapping[bytes, bytes]):
    """A mapping over `store` whose writes wait in memory until `take()`."""

    def __init__(self, store: MutableMapping[bytes, bytes]) -> None:
        self.store = store
        self._pending: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        found = self._pending.get(key)
        return self.store[key] if found is None else found

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        found = self._pending.get(key)
        if found is not None:
            return found
        # A Faust table with default=None answers None for a missing key instead of raising.
        value = self.store.get(key)
        return default if value is None else value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._pending[key] = value

    def __delitem__(self, key: bytes) -> None:
        raise TypeError("device state is never deleted by the pipeline")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pending
        for key in self.store:
            if key not in self._pending:
                yield key

    def __len__(self) -> int:
        return len(self.store) + sum(1 for key in self._pending if key not in self.store)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def take(self) -> dict[bytes, bytes]:
        """The pending writes (one value per key, the latest), handed over to be written; the
        caller writes them to `store` (reads fall through to it from now on)."""
        pending, self._pending = self._pending, {}
        return pending
