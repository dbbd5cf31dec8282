"""Executables' platforms from their first bytes."""
from __future__ import annotations

from pathlib import Path

from bodega.storage.binary_platform import PlatformCheck, binary_platform


def _pe(machine: int) -> bytes:
    head = bytearray(512)
    head[0:2] = b"MZ"
    head[60:64] = (128).to_bytes(4, "little")
    head[128:134] = b"PE\0\0" + machine.to_bytes(2, "little")
    return bytes(head)


def test_known_formats():
    assert binary_platform(Path("/bin/busybox").read_bytes()[:4096] if Path("/bin/busybox").exists()
                           else Path("/bin/sh").read_bytes()[:4096]) == "linux-x64"
    assert binary_platform(_pe(0x8664)) == "windows-x64"
    assert binary_platform(_pe(0xAA64)) == "windows-arm64"
    assert binary_platform(b"#!/bin/sh\n") is None and binary_platform(b"MZ") is None


def test_a_bundle_with_a_native_binary_passes_and_a_foreign_one_alone_does_not():
    mixed = PlatformCheck("linux-x64")
    mixed.see("win/app.exe", _pe(0x8664))
    mixed.see("linux/app", Path("/bin/sh").read_bytes()[:4096])
    assert mixed.mismatch() is None
    foreign = PlatformCheck("linux-x64")
    foreign.see("app.exe", _pe(0x8664))
    assert "windows-x64" in foreign.mismatch()
    wow = PlatformCheck("windows-x64")
    wow.see("setup.exe", _pe(0x014C))  # 32-bit runs on x64 Windows
    assert wow.mismatch() is None
