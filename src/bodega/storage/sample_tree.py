"""A realistic installed-applications tree for benchmarks and `bodega tune`/`bodega bench`,
the same for the same seed.

`generate(DEST, files=N, seed=S, scale=X)` (or `python bench/treegen.py DEST --files N`)
writes under DEST (which must not exist) about N regular files in about N/8 directories: apps laid out as
`apps/<name>-<version>/` with bin/, lib/ (shared libraries and their version symlinks),
share/locale/*/LC_MESSAGES, share/icons, share/doc, and per kind an Electron
resources/app/node_modules tree nested several levels deep, a Python site-packages with
__pycache__, or plugin and data directories; plus relative symlinks inside the tree and a
few hard links.  Sizes: about half under 4 KiB, a long tail up to tens of MiB, around
1.2 GiB at 100k files (`scale` multiplies every size, so tests can make tiny trees).
Content is slices of a seeded random pool and a pseudo source-code text pool, mixed by file
type, so compression benchmarks see both incompressible and compressible data.
"""
from __future__ import annotations

import functools
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from bodega._native.tree import Dir

RANDOM_POOL = 32 << 20
TEXT_POOL = 8 << 20
WRITE_PIECE = 1 << 20
DIRS_PER_FILE = 1 / 8

# Content of a file: text (compressible), random (already compressed: images, archives),
# or binary (executables and libraries: alternating random and text pieces).
TEXT, RANDOM, BINARY = 0, 1, 2

# Size classes for ordinary files: (probability, low, high), log-uniform inside a class.
SMALL_SIZES = ((0.50, 32, 4096), (0.415, 4096, 16384), (0.08, 16384, 65536), (0.005, 65536, 1 << 20))
# Executables, libraries and archives: the long tail.
BIG_SIZES = ((0.95, 65536, 1 << 20), (0.05, 1 << 20, 40 << 20))

WORDS = (
    "return self value const function import from data index module export default if else "
    "for while None true false null buffer length item key options config error result "
    "callback promise async await string number object array map filter reduce this new "
    "class extends super yield lambda def pass raise try except render state props event "
    "handler request response stream path file read write open close parse format"
).split()
NAMES = (
    "atlas beacon cedar delta ember falcon garnet harbor iris juniper kestrel lumen maple "
    "nimbus onyx pixel quartz raven sierra tango umbra vertex willow xenon yarrow zephyr "
    "aurora bramble cobalt dune echo fjord glacier helix indigo jasper karma lotus meridian"
).split()
NODE_WORDS = (
    "lodash react debug chalk commander semver uuid glob minimatch yargs ms inherits "
    "readable-stream safe-buffer string_decoder util-deprecate core-util-is isarray "
    "process-nextick-args once wrappy inflight balanced-match brace-expansion concat-map "
    "mime-types mime-db ansi-styles color-convert color-name supports-color has-flag "
    "escape-string-regexp js-tokens loose-envify object-assign prop-types scheduler"
).split()
PY_PACKAGES = (
    "requests urllib3 idna certifi charset_normalizer six attrs yaml jinja2 markupsafe "
    "click packaging pyparsing dateutil pytz cryptography cffi pycparser numpy"
).split()
LANGS = (
    "af ar ast be bg bn br bs ca cs cy da de el en_AU en_CA en_GB eo es et eu fa fi fr ga "
    "gl gu he hi hr hu id is it ja ka kk km kn ko lt lv mk ml mr ms nb nl nn oc pa pl pt "
    "pt_BR ro ru sk sl sq sr sv ta te th tr uk vi zh_CN zh_HK zh_TW"
).split()
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
DOC_NAMES = ("README.md", "LICENSE", "changelog.gz", "NEWS", "AUTHORS", "Überblick.md", "説明.txt")


@dataclass
class FileSpec:
    """One regular file to write."""

    path: str
    size: int
    content: int
    offset: int
    mode: int = 0o644


@dataclass
class TreePlan:
    """Everything a tree holds, in creation order (a directory before its contents)."""

    dirs: list[str] = field(default_factory=list)
    files: list[FileSpec] = field(default_factory=list)
    symlinks: list[tuple[str, str]] = field(default_factory=list)   # (path, relative target)
    hardlinks: list[tuple[str, str]] = field(default_factory=list)  # (path, existing file)

    @property
    def total_bytes(self) -> int:
        """Bytes of file content."""
        return sum(f.size for f in self.files)


@dataclass
class TreeStats:
    """What generate() wrote."""

    files: int
    dirs: int
    symlinks: int
    hardlinks: int
    bytes: int
    seconds: float


class _Planner:
    """Draws the tree's layout from one seeded random generator."""

    def __init__(self, files: int, seed: int, scale: float) -> None:
        self.rng = random.Random(seed)
        self.target = files
        self.scale = scale
        self.plan = TreePlan()
        self.known_dirs: set[str] = set()
        self.taken: set[str] = set()  # every path planned: directories, files and links
        self.leaves: set[str] = set()  # files and links

    # -- primitives ---------------------------------------------------------------------

    def room(self) -> int:
        return self.target - len(self.plan.files)

    def claim(self, path: str, leaf: bool = True) -> str:
        """path, or a variant of it when it is taken already."""
        unique, n = path, 1
        while unique in self.taken:
            unique, n = f"{path}.{n}", n + 1
        self.taken.add(unique)
        if leaf:
            self.leaves.add(unique)
        return unique

    def mkdir(self, path: str) -> str:
        """Plans path and its missing parents (an existing directory is reused)."""
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in self.known_dirs:
                if sub in self.leaves:
                    raise AssertionError(f"{sub} is planned as a file and a directory")
                self.known_dirs.add(sub)
                self.taken.add(sub)
                self.plan.dirs.append(sub)
        return path

    def symlink(self, path: str, target: str) -> None:
        self.plan.symlinks.append((self.claim(path), target))

    def _draw(self, classes: tuple[tuple[float, int, int], ...]) -> int:
        x = self.rng.random()
        for p, low, high in classes:
            if x < p:
                break
            x -= p
        return int(math.exp(self.rng.uniform(math.log(low), math.log(high))))

    def file(self, path: str, content: int = TEXT, big: bool = False, size: int | None = None,
             mode: int = 0o644) -> bool:
        """Adds a file (its directory must exist); False once the file budget is spent."""
        if self.room() <= 0:
            return False
        if size is None:
            size = self._draw(BIG_SIZES if big else SMALL_SIZES)
        size = int(size * self.scale)
        pool = TEXT_POOL if content == TEXT else RANDOM_POOL
        self.plan.files.append(FileSpec(self.claim(path), size, content, self.rng.randrange(pool), mode))
        return True

    def name(self) -> str:
        return self.rng.choice(NAMES) + ("-" + self.rng.choice(NAMES) if self.rng.random() < 0.3 else "")

    # -- parts of an app ----------------------------------------------------------------

    def bin_dir(self, root: str, app: str) -> None:
        self.mkdir(f"{root}/bin")
        self.file(f"{root}/bin/{app}", BINARY, big=True, mode=0o755)
        for _ in range(self.rng.randrange(0, 4)):
            self.file(f"{root}/bin/{app}-{self.rng.choice(WORDS)}", BINARY, big=True, mode=0o755)
        if self.rng.random() < 0.15 and self.plan.files[-1].path.startswith(f"{root}/bin/"):
            # A second name that is a hard link, as packages do.
            self.plan.hardlinks.append((self.claim(f"{root}/bin/{app}.real"), self.plan.files[-1].path))

    def shared_libs(self, root: str, app: str) -> None:
        self.mkdir(f"{root}/lib")
        for i in range(self.rng.randrange(1, 5)):
            base = f"lib{app}{'' if i == 0 else '-' + self.rng.choice(WORDS)}.so"
            ver = f"{self.rng.randrange(0, 9)}.{self.rng.randrange(0, 30)}.{self.rng.randrange(0, 9)}"
            if self.file(f"{root}/lib/{base}.{ver}", BINARY, big=True, mode=0o755):
                major = ver.split(".")[0]
                self.symlink(f"{root}/lib/{base}.{major}", f"{base}.{ver}")
                self.symlink(f"{root}/lib/{base}", f"{base}.{major}")

    def share(self, root: str, app: str) -> None:
        doc = self.mkdir(f"{root}/share/doc/{app}")
        for n in self.rng.sample(DOC_NAMES, self.rng.randrange(2, len(DOC_NAMES))):
            self.file(f"{doc}/{n}", RANDOM if n.endswith(".gz") else TEXT)
        self.mkdir(f"{root}/share/applications")
        self.file(f"{root}/share/applications/{app}.desktop", size=self.rng.randrange(200, 900))
        for px in self.rng.sample(ICON_SIZES, self.rng.randrange(3, len(ICON_SIZES))):
            d = self.mkdir(f"{root}/share/icons/hicolor/{px}x{px}/apps")
            self.file(f"{d}/{app}.png", RANDOM, size=px * px // 2 + 200)
        langs = self.rng.randrange(5, len(LANGS)) if self.rng.random() < 0.4 else 0
        for lang in self.rng.sample(LANGS, langs):
            d = self.mkdir(f"{root}/share/locale/{lang}/LC_MESSAGES")
            self.file(f"{d}/{app}.mo", RANDOM, size=self.rng.randrange(1500, 60000))

    def node_package(self, base: str, depth: int) -> None:
        pkg = self.rng.choice(NODE_WORDS)
        if self.rng.random() < 0.15:
            pkg = f"@{self.rng.choice(NAMES)}/{pkg}"
        root = self.mkdir(self.claim(f"{base}/{pkg}", leaf=False))
        for n in ("package.json", "README.md", "LICENSE", "index.js"):
            self.file(f"{root}/{n}")
        for sub in self.rng.sample(("lib", "dist", "src", "types", "lib/utils", "dist/esm", "dist/cjs"),
                                   self.rng.randrange(1, 4)):
            d = self.mkdir(f"{root}/{sub}")
            for _ in range(self.rng.randrange(3, 25)):
                ext = self.rng.choice((".js", ".js", ".d.ts", ".js.map", ".mjs", ".json"))
                self.file(f"{d}/{self.rng.choice(WORDS)}-{self.rng.randrange(100)}{ext}")
        if self.rng.random() < 0.3:
            self.mkdir(f"{root}/bin")
            self.file(f"{root}/bin/cli.js", mode=0o755)
            self.mkdir(f"{base}/.bin")
            self.symlink(f"{base}/.bin/{pkg.split('/')[-1]}", f"../{root[len(base) + 1:]}/bin/cli.js")
        if depth < 5 and self.rng.random() < 0.35:
            nested = self.mkdir(f"{root}/node_modules")
            for _ in range(self.rng.randrange(1, 4)):
                if self.room() > 0:
                    self.node_package(nested, depth + 1)

    def python_package(self, base: str) -> None:
        root = self.mkdir(self.claim(f"{base}/{self.rng.choice(PY_PACKAGES)}{self.rng.randrange(100)}", leaf=False))
        cache = self.mkdir(f"{root}/__pycache__")
        self.file(f"{root}/__init__.py", size=0 if self.rng.random() < 0.5 else None)
        for sub in ("", *self.rng.sample(("core", "utils", "compat", "vendor", "tests"), self.rng.randrange(0, 3))):
            d = self.mkdir(f"{root}/{sub}") if sub else root
            c = self.mkdir(f"{d}/__pycache__") if sub else cache
            for _ in range(self.rng.randrange(3, 20)):
                mod = f"{self.rng.choice(WORDS)}_{self.rng.randrange(50)}"
                self.file(f"{d}/{mod}.py")
                self.file(f"{c}/{mod}.cpython-311.pyc", BINARY)

    def data_dir(self, base: str) -> None:
        d = self.mkdir(self.claim(f"{base}/{self.rng.choice(WORDS)}-{self.rng.randrange(1000)}", leaf=False))
        for _ in range(self.rng.randrange(4, 40)):
            kind = self.rng.choice((TEXT, TEXT, RANDOM, BINARY))
            ext = {TEXT: ".xml", RANDOM: ".dat", BINARY: ".so"}[kind]
            self.file(f"{d}/{self.rng.choice(WORDS)}{self.rng.randrange(100)}{ext}", kind)

    def app(self) -> None:
        name = self.name()
        ver = f"{self.rng.randrange(0, 40)}.{self.rng.randrange(0, 20)}.{self.rng.randrange(0, 10)}"
        root = self.claim(f"apps/{name}-{ver}", leaf=False)
        budget = len(self.plan.files) + self.rng.randrange(300, 2500)
        kind = self.rng.choice(("electron", "python", "native", "java"))
        self.mkdir(root)
        self.bin_dir(root, name)
        self.shared_libs(root, name)
        self.share(root, name)
        if kind == "electron":
            res = self.mkdir(f"{root}/resources")
            self.file(f"{res}/app.asar", RANDOM, big=True)
            fill = lambda: self.node_package(self.mkdir(f"{res}/app/node_modules"), 0)  # noqa: E731
        elif kind == "python":
            fill = lambda: self.python_package(self.mkdir(f"{root}/lib/python3.11/site-packages"))  # noqa: E731
        elif kind == "java":
            jars = self.mkdir(f"{root}/lib/{name}/jars")
            for _ in range(self.rng.randrange(3, 20)):
                self.file(f"{jars}/{self.rng.choice(WORDS)}-{self.rng.randrange(9)}.jar", RANDOM, big=self.rng.random() < 0.2)
            fill = lambda: self.data_dir(self.mkdir(f"{root}/share/{name}"))  # noqa: E731
        else:
            fill = lambda: self.data_dir(self.mkdir(f"{root}/lib/{name}/plugins"))  # noqa: E731
        if self.rng.random() < 0.3:  # a command that is a link into lib/, as many apps have
            self.symlink(f"{root}/bin/{name}-launcher", f"../lib/lib{name}.so")
        while len(self.plan.files) < budget and self.room() > 0:
            fill()

    def build(self) -> TreePlan:
        while self.room() > 0:
            self.app()
        return self.plan


def plan_tree(files: int = 100_000, seed: int = 0, scale: float = 1.0) -> TreePlan:
    """The layout of the tree for these parameters (nothing is written)."""
    if files < 1:
        raise ValueError(f"files must be at least 1, not {files}")
    if scale < 0:
        raise ValueError(f"scale must be positive, not {scale}")
    return _Planner(files, seed, scale).build()


@functools.lru_cache(maxsize=1)  # 40 MiB, slow to draw: a process making several trees draws them once
def _pools(seed: int) -> tuple[memoryview, memoryview]:
    """The random and text pools file content is cut from."""
    rng = random.Random(seed ^ 0x5EED)
    rand = rng.randbytes(RANDOM_POOL)
    lines, n = [], 0
    while n < TEXT_POOL:
        line = "    " * rng.randrange(4) + " ".join(rng.choices(WORDS, k=rng.randrange(3, 12))) + ";\n"
        lines.append(line)
        n += len(line)
    text = "".join(lines).encode()[:TEXT_POOL]
    # Doubled so any slice up to the pool's length is one contiguous view.
    return memoryview(rand + rand), memoryview(text + text)


def _content(spec: FileSpec, rand: memoryview, text: memoryview) -> bytes:
    """The bytes of a file: pieces of the pools, by its content type."""
    pieces, left, piece = [], spec.size, 0
    while left > 0:
        if spec.content == TEXT or (spec.content == BINARY and piece % 3 == 2):
            pool, length = text, TEXT_POOL
        else:
            pool, length = rand, RANDOM_POOL
        n = min(left, WRITE_PIECE)
        start = (spec.offset + piece * 7919 * 4096) % length
        pieces.append(pool[start:start + n])
        left -= n
        piece += 1
    return b"".join(pieces)


def write_tree(plan: TreePlan, dest: str | os.PathLike[str], seed: int = 0) -> None:
    """Writes plan under dest, which must not exist (through the native core's handle-relative,
    no-follow operations, as every write of bodega)."""
    root = Path(dest)
    with Dir.open(root.parent) as parent:
        parent.mkdir_at(root.name)
    rand, text = _pools(seed)
    opened: tuple[str, Dir] | None = None  # the last directory written into: files come grouped by it

    def at(rel: str) -> tuple[Dir, str]:
        nonlocal opened
        where, _, name = rel.rpartition("/")
        if opened is None or opened[0] != where:
            if opened is not None:
                opened[1].close()
            opened = (where, Dir.open(root / where))
        return opened[1], name

    try:
        for d in plan.dirs:
            parent_dir, name = at(d)
            parent_dir.mkdir_at(name)
        for spec in plan.files:
            parent_dir, name = at(spec.path)
            parent_dir.write_file_at(name, _content(spec, rand, text), mode=spec.mode)
        for path, existing in plan.hardlinks:
            with Dir.open(root / existing.rpartition("/")[0]) as src:
                parent_dir, name = at(path)
                src.hardlink_at(existing.rpartition("/")[2], parent_dir, name)
        for path, target in plan.symlinks:
            parent_dir, name = at(path)
            parent_dir.symlink_at(name, target)
    finally:
        if opened is not None:
            opened[1].close()


def generate(dest: str | os.PathLike[str], files: int = 100_000, seed: int = 0,
             scale: float = 1.0) -> TreeStats:
    """Plans and writes the tree under dest (which must not exist)."""
    start = time.perf_counter()
    plan = plan_tree(files, seed, scale)
    write_tree(plan, dest, seed)
    return TreeStats(len(plan.files), len(plan.dirs), len(plan.symlinks), len(plan.hardlinks),
                     plan.total_bytes, time.perf_counter() - start)
