class TarReader:
    """The state of one tar stream between buffers (extended headers waiting for their member)."""

    @property
    def ended(self) -> bool: ...
    def read(self, buf: bytes | bytearray | memoryview, eof: bool, max_whole: int
             ) -> tuple[list[tuple[int, bytes, bytes, int, int, int, int, bool]], int, int]: ...
