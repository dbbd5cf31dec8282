"""Which platform an executable is built for, from its first bytes (ELF, PE, Mach-O)."""
from __future__ import annotations

import struct

HEAD_BYTES = 4096  # enough for the PE header of every ordinary executable

_ELF_MACHINES = {0x3E: "linux-x64", 0xB7: "linux-arm64", 0x03: "linux-x86", 0x28: "linux-arm"}
_PE_MACHINES = {0x8664: "windows-x64", 0xAA64: "windows-arm64", 0x014C: "windows-x86", 0x01C4: "windows-arm"}
_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")

# What each container platform runs besides its own binaries.
RUNS = {
    "linux-x64": {"linux-x64", "linux-x86"},
    "linux-arm64": {"linux-arm64", "linux-arm"},
    "windows-x64": {"windows-x64", "windows-x86"},
    "windows-arm64": {"windows-arm64", "windows-x64", "windows-x86", "windows-arm"},
}


def binary_platform(head: bytes) -> str | None:
    """The platform of the executable whose file starts with head, or None when it is not one
    (a script, data, or a format this does not know)."""
    if head.startswith(b"\x7fELF") and len(head) >= 20:
        little = head[5] == 1
        machine = struct.unpack_from("<H" if little else ">H", head, 18)[0]
        return _ELF_MACHINES.get(machine, "linux-other")
    if head.startswith(b"MZ") and len(head) >= 64:
        offset = struct.unpack_from("<I", head, 60)[0]
        if offset + 6 <= len(head) and head[offset:offset + 4] == b"PE\0\0":
            return _PE_MACHINES.get(struct.unpack_from("<H", head, offset + 4)[0], "windows-other")
        return None  # a DOS program or a PE header further than we read
    if head[:4] in _MACHO:
        return "macos"
    return None


def runs_on(binary: str, container_platform: str) -> bool:
    """Whether a binary of platform binary runs in a container of container_platform."""
    return binary in RUNS.get(container_platform, {container_platform})


class PlatformCheck:
    """Collects the binaries of a payload and says whether it is for another platform.

    A payload is for another platform when it holds binaries and none of them runs here
    (a portable bundle with binaries for several platforms passes).
    """

    def __init__(self, container_platform: str) -> None:
        self.platform = container_platform
        self.native: list[str] = []
        self.foreign: list[tuple[str, str]] = []

    def see(self, path: str, head: bytes) -> None:
        """Notes the file at path (shown in messages) whose first bytes are head."""
        found = binary_platform(head)
        if found is None:
            return
        if runs_on(found, self.platform):
            self.native.append(path)
        else:
            self.foreign.append((path, found))

    def mismatch(self) -> str | None:
        """Why the payload is for another platform, or None."""
        if self.foreign and not self.native:
            path, found = self.foreign[0]
            more = f" and {len(self.foreign) - 1} more" if len(self.foreign) > 1 else ""
            return f"{path}{more} is built for {found}, and this container is {self.platform}"
        return None
