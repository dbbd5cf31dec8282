from typing import Callable

class ProgressBridge:
    """Owns the bd_progress of one native call and carries fn's exception back out."""

    def __init__(self, fn: Callable[[int, int], object] | None = None) -> None: ...
