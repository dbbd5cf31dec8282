from dataclasses import dataclass
from typing import Any, Callable

from bodega._native._progress import Progress

ROOT_VIEW: str

@dataclass(frozen=True)
class Bind:
    source: str
    target: str
    read_only: bool = True

@dataclass(frozen=True)
class ProcessSpec:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    root: str
    binds: tuple[Bind, ...] = ()
    network: str = "none"
    memory_limit: int = 0
    cpu_limit: float = 0.0
    time_limit: float = 0.0
    sandbox_tool: str | None = None
    cgroup_root: str | None = None

@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    signal: int
    timed_out: bool
    memory_killed: bool
    peak_memory: int
    seconds: float
    memory_by: str
    cpu_by: str
    @property
    def crashed(self) -> bool: ...
    def to_dict(self) -> dict[str, Any]: ...

@dataclass(frozen=True)
class Isolation:
    tool: str
    root_view: str | None
    binds: bool
    network_none: bool
    memory_by: str
    cpu_by: str
    @property
    def available(self) -> bool: ...
    def to_dict(self) -> dict[str, Any]: ...

def pid_alive(pid: int) -> bool: ...
def lower_priority() -> None: ...
def isolation(sandbox_tool: str | None = None, cgroup_root: str | None = None) -> Isolation: ...
def run(spec: ProcessSpec, progress: Callable[[Progress], object] | None = None) -> ProcessResult: ...
