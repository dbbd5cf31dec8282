"""bodega.manifest: entries, root hash, file format, deltas, the racy rule, bad input."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

import blake3
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bodega
from bodega import errors
from bodega._native import manifest as native
from bodega.storage import manifest_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import need  # noqa: E402
from manifest_trees import Opens, just_written, later, make_tree  # noqa: E402
from reference import manifest_ref as ref  # noqa: E402

mf = bodega.manifest
from subprocesses import SRC  # the bodega this run imports: installed in CI, src/ in a checkout


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path / "tree")


# ---- entries and root hash ---------------------------------------------------------------

def test_entries_match_the_reference_walk(tree):
    m = mf.build(tree)
    want = ref.entries(tree)
    got = list(m)
    assert [e.path for e in got] == [w["path"] for w in want]
    for e, w in zip(got, want):
        assert (e.kind, e.mode, e.size, e.mtime_ns) == (
            native.KINDS[w["kind"]], w["mode"], w["size"], w["mtime_ns"]), e.path
        assert e.hash == (w["hash"] if w["kind"] == 1 else None)
        assert e.link == (w["link"] if w["kind"] == 3 else None)
    assert m.get(b"latin\xe9").flags == 1 and not m.get(b"latin\xe9").path_is_utf8
    assert m.get("é.txt").path_is_utf8


def test_table_section_and_root_equal_the_reference(tree):
    m = mf.build(tree)
    want = ref.entries(tree)
    assert m._table.table_section() == ref.table_section(want)
    assert m.root == ref.root_hash(want)


def test_equal_trees_elsewhere_give_equal_roots(tree, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy, symlinks=True)  # new inodes, new mtimes
    os.utime(copy / "a.txt", ns=(1, 1))
    a, b = mf.build(tree), mf.build(copy)
    assert a.root == b.root
    assert a.get("a.txt").mtime_ns != b.get("a.txt").mtime_ns


@pytest.mark.parametrize("change", ["content", "mode", "link", "name", "new-dir", "kind"])
def test_root_changes_with_what_it_covers(tree, change):
    before = mf.build(tree).root
    if change == "content":
        (tree / "a.txt").write_bytes(b"hellO\n")
    elif change == "mode":
        os.chmod(tree / "a.txt", 0o600)
    elif change == "link":
        os.unlink(tree / "link")
        os.symlink("run.sh", tree / "link")
    elif change == "name":
        os.rename(tree / "a.txt", tree / "A.txt")
    elif change == "new-dir":
        (tree / "newdir").mkdir()
    else:
        os.unlink(tree / "a-b" / "x")
        (tree / "a-b" / "x").mkdir()
    assert mf.build(tree).root != before


def test_empty_tree(tmp_path):
    m = mf.build(tmp_path)
    assert len(m) == 0 and m.root == ref.root_hash([])
    assert mf.loads(m.to_bytes()) == m


def test_bodega_manifest_is_lazy():
    code = ("import sys, bodega; assert 'bodega.storage.manifest' not in sys.modules; "
            "bodega.manifest.build; assert 'bodega.storage.manifest' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(SRC)})


# ---- drafts: contents read elsewhere -----------------------------------------------------

def _regular_files(tree: Path) -> dict[bytes, int]:
    return {os.fsencode(p.relative_to(tree)): p.stat().st_size
            for p in tree.rglob("*") if p.is_file() and not p.is_symlink()}


def test_a_draft_finished_with_contents_read_elsewhere_is_the_build(tree):
    """A draft leaves every non-empty file unread (its path and size), and set_contents with
    the hashes read elsewhere finishes it as build() would."""
    draft = mf.build_draft(tree, unread_min=1)
    assert {f.path: f.size for f in draft.unread} == {p: n for p, n in _regular_files(tree).items() if n}
    with pytest.raises(errors.InvalidInput, match="never read"):
        draft.manifest()
    paths = [f.path for f in draft.unread]
    digests = [blake3.blake3((tree / os.fsdecode(p)).read_bytes()).digest() for p in paths]
    draft.set_contents(paths[:2], digests[:2], [f.size for f in draft.unread[:2]])
    known = {path for path, _, _ in draft.hashed_rows()}
    assert set(paths[:2]) <= known and not known & set(paths[2:])
    draft.set_contents(paths[2:], digests[2:], [f.size for f in draft.unread[2:]])
    assert draft.manifest().root == mf.build(tree).root


def test_a_draft_refuses_contents_of_paths_it_does_not_list(tree):
    draft = mf.build_draft(tree, unread_min=1)
    with pytest.raises(errors.InvalidInput, match="nope.bin is not in this manifest"):
        draft.set_contents([b"nope.bin"], [bytes(32)], [1])
    with pytest.raises(errors.InternalError, match="file entries"):
        draft.set_contents([b"a"], [bytes(32)], [1])  # a directory
    with pytest.raises(errors.InternalError, match="one 32-byte hash"):
        draft.set_contents([draft.unread[0].path], [bytes(31)], [1])


# ---- the file -----------------------------------------------------------------------------

def test_round_trip_with_and_without_stat_cache(tree, tmp_path):
    m = mf.build(tree)
    m.save(tmp_path / "m.bgm")
    back = mf.load(tmp_path / "m.bgm")
    assert back == m and back.has_stat_cache
    assert back._table.cache_section() == m._table.cache_section()
    bare = mf.loads(m.to_bytes(stat_cache=False))
    assert bare == m and not bare.has_stat_cache


def test_large_manifest_spans_many_blocks(tmp_path):
    root = tmp_path / "wide"
    root.mkdir()
    for i in range(20000):
        (root / f"file-with-a-long-name-{i:06d}.txt").write_bytes(b"")
    m = mf.build(root)
    data = m.to_bytes()
    header = manifest_file.HEADER.unpack_from(data)
    assert header[9] >= 2  # table blocks: the table is over 1 MiB
    assert mf.loads(data) == m


def test_rows_filled_in_chunks_on_two_threads_equal_the_reference(tmp_path):
    """A scan's rows are filled 4096 at a time on two threads (bd_mf_from_scan): paths of
    every length, symlinks, and hard links whose first name lies in an earlier chunk, all as
    the reference walk says."""
    root = make_tree(tmp_path / "wide")
    for d in range(3):
        (root / f"dir{d}").mkdir()
        for i in range(4000):
            name = root / f"dir{d}" / (f"f{i}" + "x" * (i % 37))
            if i % 501 == 7:
                name.symlink_to("../a.txt" if i % 2 else "missing-target")
            elif i % 733 == 5 and d > 0:
                os.link(root / "dir0" / "f0", name)  # first name in the first chunk
            else:
                name.write_bytes(b"y" * (i % 5))
                os.utime(name, ns=(1_600_000_000 * 10**9, 1_600_000_000 * 10**9))
    m = mf.build(root)
    want = ref.entries(root)
    assert len(want) > 2 * 4096  # three chunks at least
    assert m._table.table_section() == ref.table_section(want)
    assert m.root == ref.root_hash(want)


def _encode_raw(table: bytes, n: int, *, cache: bytes | None = None, delta: bool = False,
                root: bytes = bytes(32), version: int | None = None) -> bytes:
    """A file with the given sections and valid checksums, whatever the sections hold."""
    data = manifest_file.encode(manifest_file.Sections(n, delta, root, bytes(32) if delta else None,
                                                       table, cache, 0, 0))
    if version is not None:
        head = bytearray(data[:140])
        head[8:10] = struct.pack("<H", version)
        data = bytes(head) + struct.pack("<I", zlib.crc32(head)) + data[144:]
    return data


def test_unknown_version_is_refused(tree):
    data = mf.build(tree).to_bytes()
    for version in (0, 3, 65535):
        bad = _encode_raw(b"", 0, version=version)
        with pytest.raises(errors.ManifestVersionUnsupported, match=f"version {version}"):
            mf.loads(bad)
    assert mf.loads(data)


def _as_version_1(m: mf.Manifest) -> bytes:
    """m (no hard links) written as a version-1 file: no owner columns, no owners flag."""
    n = len(m)
    table = m._table.table_section()
    v1 = table[:16 * n] + table[24 * n:]
    data = manifest_file.encode(manifest_file.Sections(n, False, m.root, None, v1, None, 0, 0))
    return _encode_raw(v1, n, root=m.root, version=1) if data else data


def test_version_1_files_are_read(tree):
    (tree / "a" / "hard").unlink(missing_ok=True)
    m = mf.build(tree)
    assert m.has_owners
    old = mf.loads(_as_version_1(m))
    assert not old.has_owners and old.root == m.root and len(old) == len(m)
    assert [e[:9] for e in old] == [e[:9] for e in m] and {(e.uid, e.gid) for e in old} == {(0, 0)}
    bad = bytearray(_as_version_1(m))
    with pytest.raises(errors.ManifestCorrupt):
        mf.loads(bytes(bad[:-1]))


def test_hard_links_are_recorded_and_owners_with_them(tree):
    os.link(tree / "a.txt", tree / "a" / "hard")
    m = mf.build(tree)
    e = m.get("a/hard")
    assert e.kind == "file" and e.link == b"a.txt" and e.hash == m.get("a.txt").hash
    assert m.get("a.txt").link is None
    assert (e.uid, e.gid) == (os.getuid(), os.getgid())
    assert e.to_json()["hardlink"] == "a.txt" and e.to_json()["link"] is None
    assert mf.loads(m.to_bytes()) == m
    (tree / "a" / "hard").unlink()
    (tree / "a" / "hard").write_bytes(b"hello\n")  # same content, its own inode now
    d = mf.diff(m, tree)
    assert [(c.path, c.changes) for c in d] == [(b"a/hard", ("link-changed",))]


def test_truncation_is_named_with_its_offset(tree):
    data = mf.build(tree).to_bytes()
    for cut in (0, 5, 100, 143, 144, 150, len(data) // 2, len(data) - 1):
        with pytest.raises(errors.ManifestCorrupt) as info:
            mf.loads(data[:cut])
        assert info.value.offset is not None and info.value.offset <= cut
        assert f"byte {info.value.offset}" in str(info.value)
        assert "truncated" in str(info.value) or cut < 8


def _with_first_block(data: bytes, frame: bytes, raw: int) -> bytes:
    """data (a manifest file) with its first table block's frame replaced, under a block header
    that says raw bytes and a checksum that matches: damage only a writer makes."""
    head = manifest_file.HEADER.size
    stored, _, _ = manifest_file.BLOCK.unpack_from(data, head)
    block = manifest_file.BLOCK.pack(len(frame), raw, zlib.crc32(frame)) + frame
    return data[:head] + block + data[head + manifest_file.BLOCK.size + stored:]


def test_a_block_that_decompresses_wrong_is_named(tree):
    """Blocks decompress straight into the section: one that gives fewer or more bytes than
    its header says, or no zstd frame at all, is refused at its own offset."""
    m = mf.build(tree)
    data, table = m.to_bytes(), m._table.table_section()
    assert len(table) <= manifest_file.BLOCK_RAW_MAX  # one table block, the first
    zstd = zstandard.ZstdCompressor()
    body = manifest_file.HEADER.size + manifest_file.BLOCK.size
    for frame, what in ((zstd.compress(table[:-1]), f"decompresses to {len(table) - 1} bytes, not {len(table)}"),
                        (zstd.compress(table + b"x"), f"decompresses to more than {len(table)} bytes"),
                        (b"junk", "does not decompress")):
        with pytest.raises(errors.ManifestCorrupt) as info:
            mf.loads(_with_first_block(data, frame, len(table)))
        assert f"table block 0 {what}" in str(info.value)
        assert info.value.offset == body
    assert mf.loads(_with_first_block(data, zstd.compress(table), len(table))) == m  # the helper keeps good files good


def test_a_header_claiming_more_than_the_file_holds_is_refused_before_any_allocation(tree):
    """The section buffer is sized from the header: a header (checksum right) claiming a
    section no block of the file could hold is refused, not allocated (no MemoryError)."""
    data = bytearray(mf.build(tree).to_bytes())
    table_len = 1 << 46
    struct.pack_into("<Q", data, 24, table_len)
    struct.pack_into("<I", data, 56, table_len // manifest_file.BLOCK_RAW_MAX)
    struct.pack_into("<I", data, 140, zlib.crc32(data[:140]))
    with pytest.raises(errors.ManifestCorrupt, match=f"truncated: table blocks of {table_len} bytes cannot fit"):
        mf.loads(bytes(data))


def test_a_raw_table_becomes_a_table_only_once_checked(tree):
    """A file's sections decompress into a RawTable's own memory, which becomes the Table with
    no copy: only after check() passed on what was written, and a view taken after the check
    (more writes) means another check."""
    m = mf.build(tree)
    data = m.to_bytes()
    h = manifest_file.read_header(data)
    raw = native.RawTable(h.table_len, h.cache_len)
    with raw.view() as view:
        manifest_file.read_sections(data, h, view[:h.table_len], view[raw.cache_offset:raw.cache_offset + h.cache_len])
    with pytest.raises(errors.InternalError):
        raw.table()  # unchecked
    assert raw.check(h.entries, h.delta, h.owners) is None
    raw.view().release()
    with pytest.raises(errors.InternalError):
        raw.table()  # written to since the check
    assert raw.check(h.entries, h.delta, h.owners) is None
    table = raw.table(h.scan_start_ns, h.racy_window_ns)
    assert table.same_table(m._table) and table.cache_section() == m._table.cache_section()
    assert (table.scan_start_ns, table.racy_window_ns) == (m._table.scan_start_ns, m._table.racy_window_ns)
    with pytest.raises(errors.InternalError):
        raw.check(h.entries, h.delta, h.owners)  # its memory is the table's now
    broken = native.RawTable(h.table_len, h.cache_len)
    with broken.view() as view:  # a table of zeros: its path lengths add up to nothing
        manifest_file.read_sections(data, h, view[:h.table_len], view[broken.cache_offset:broken.cache_offset + h.cache_len])
        view[:h.table_len] = bytes(h.table_len)
    assert broken.check(h.entries, h.delta, h.owners) is not None
    with pytest.raises(errors.InternalError):
        broken.table()


def test_the_size_a_manifest_file_announces_is_only_a_hint(tree, tmp_path):
    """expected_size reads a saved manifest's header alone: the scan of its tree is sized by
    it, and lists the same tree whatever the hint says (too small, absurdly large, none)."""
    m = mf.build(tree)
    m.save(tmp_path / "m.bgm")
    assert manifest_file.expected_size(tmp_path / "m.bgm") == (len(m), m._table.text_bytes)
    assert m._table.text_bytes == len(m._table.table_section()) - native.ROW_BYTES * len(m) > 0
    (tmp_path / "junk").write_bytes(b"not a manifest" * 20)
    for no_hint in (tmp_path / "missing", tmp_path / "junk", tmp_path, tmp_path / "m.bgm.part"):
        assert manifest_file.expected_size(no_hint) == (0, 0)
    for entries, size in ((1, 1), (len(m), m._table.text_bytes), (2 ** 40, 2 ** 50), (0, 0)):
        scanned = native.scan_tree(tree, threads=2, start_ns=5, expect_entries=entries, expect_bytes=size)
        assert scanned.same_table(native.scan_tree(tree, threads=1, start_ns=5))


def test_every_bit_flip_is_caught(tree):
    data = mf.build(tree).to_bytes()
    for pos in list(range(0, 144, 3)) + list(range(144, len(data), max(1, len(data) // 300))):
        bad = bytearray(data)
        bad[pos] ^= 0x10
        with pytest.raises((errors.ManifestCorrupt, errors.ManifestVersionUnsupported)) as info:
            mf.loads(bytes(bad))
        if isinstance(info.value, errors.ManifestCorrupt):
            assert "byte" in str(info.value)


def test_a_flipped_block_names_its_byte_range(tree):
    data = mf.build(tree).to_bytes()
    bad = bytearray(data)
    bad[144 + 12 + 5] ^= 1  # inside the first block's frame
    with pytest.raises(errors.ManifestCorrupt, match=r"table block 0 \(bytes 156\.\.\d+\) fails its checksum"):
        mf.loads(bytes(bad))


def test_trailing_garbage_is_refused(tree):
    data = mf.build(tree).to_bytes()
    with pytest.raises(errors.ManifestCorrupt, match=f"byte {len(data)}: 3 unexpected bytes"):
        mf.loads(data + b"abc")


def test_not_a_manifest(tmp_path):
    with pytest.raises(errors.ManifestCorrupt, match="bad magic"):
        mf.loads(b"PK\x03\x04" + bytes(200))
    with pytest.raises(errors.PathNotFound):
        mf.load(tmp_path / "missing")


def _column_case(tree, name):
    """A valid table section of the tree, then one column broken as `name` says."""
    m = mf.build(tree)
    n = len(m)
    t = bytearray(m._table.table_section())
    kinds = 40 * n
    files = [i for i in range(n) if t[kinds + i] == 1]
    dirs = [i for i in range(n) if t[kinds + i] == 2]
    paths_at = 73 * n
    if name == "kind":
        t[kinds + files[0]] = 9
    elif name == "tombstone in a full manifest":
        t[kinds + dirs[0]] = 0
    elif name == "hash on a directory":
        t[41 * n + 32 * dirs[0]] = 1
    elif name == "order":
        t[paths_at] = 0x7A  # "a-b" becomes "z-b", before "a..." entries that follow
    elif name == "flags":
        t[-1] ^= 1
    elif name == "mode":
        struct.pack_into("<I", t, 24 * n + 4 * files[0], 0o040755)
    elif name == "lengths":
        struct.pack_into("<I", t, 32 * n, struct.unpack_from("<I", t, 32 * n)[0] + 1)
    elif name == "owner":  # the file is written without the owners flag
        struct.pack_into("<I", t, 16 * n + 4 * files[0], 4242)
    return bytes(t), n


@pytest.mark.parametrize("name,message", [
    ("kind", "unknown kind"), ("tombstone in a full manifest", "unknown kind"),
    ("hash on a directory", "content hash on something not a file"),
    ("order", "out of order"), ("flags", "UTF-8 flags"), ("mode", "mode does not match"),
    ("lengths", "do not add up"), ("owner", "an owner where none is recorded"),
])
def test_checksummed_but_invalid_columns_are_named(tree, name, message):
    table, n = _column_case(tree, name)
    with pytest.raises(errors.ManifestCorrupt, match=f"table section byte \\d+.*{message}"):
        mf.loads(_encode_raw(table, n))


def test_wrong_root_in_header_is_refused(tree):
    m = mf.build(tree)
    data = _encode_raw(m._table.table_section(), len(m), root=bytes(31) + b"\1")
    with pytest.raises(errors.ManifestCorrupt, match="root"):
        mf.loads(data)


def test_a_diff_of_a_tree_checks_the_files_root_when_it_shows_it(tree, tmp_path):
    """A diff of a tree against a manifest file whose header's root is not its entries' (its
    checksums right): the changes are told, and the root is refused where it is shown."""
    m = mf.build(tree)
    bad = tmp_path / "bad.bgm"
    bad.write_bytes(_encode_raw(m._table.table_section(), len(m), root=bytes(31) + b"\1"))
    (tree / "added-file").write_bytes(b"x")
    d = mf.diff(bad, tree)
    assert [c.path for c in d] == [b"added-file"]
    with pytest.raises(errors.ManifestCorrupt, match=f"{bad}: manifest damaged: its entries give the root"):
        d.old_root
    with pytest.raises(errors.ManifestCorrupt, match="root"):
        d.to_json()
    with pytest.raises(errors.ManifestCorrupt, match="root"):
        mf.load(bad, check_root=False).save(tmp_path / "copy.bgm")  # never written with its root unchecked
    good = tmp_path / "good.bgm"
    m.save(good)
    assert mf.load(good, check_root=False).root == m.root


def test_a_diff_of_a_tree_refuses_a_damaged_manifest_file(tree, tmp_path):
    """Only the root's check waits: a block that fails its checksum is refused at once."""
    path = tmp_path / "m.bgm"
    mf.build(tree).save(path)
    data = bytearray(path.read_bytes())
    data[manifest_file.HEADER.size + manifest_file.BLOCK.size + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(errors.ManifestCorrupt, match="checksum"):
        mf.diff(path, tree)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_mutated_files_never_load_wrong(tree, data):
    good = FUZZ_BASE.setdefault("data", mf.build(tree).to_bytes())
    good_m = FUZZ_BASE.setdefault("m", mf.loads(good))
    blob = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(blob) - 1)))
        if op == "flip" and blob:
            blob[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and blob:
            blob[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del blob[pos:]
        else:
            blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        got = mf.loads(bytes(blob))
    except (errors.ManifestCorrupt, errors.ManifestVersionUnsupported):
        return
    assert got == good_m  # only a mutation that changed nothing may load


FUZZ_BASE: dict = {}


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 6), st.binary(max_size=600), st.booleans(), st.booleans())
def test_fuzz_column_checker_on_arbitrary_bytes(n, raw, delta, with_cache):
    cache = raw[: 32 * n] if with_cache else None
    problem = native.check_sections(raw, cache, n, delta)
    if problem is None:
        # whatever the checker accepts must be usable
        t = native.Table.from_sections(raw, cache, n, delta)
        assert len(t) == n and t.table_section() == raw
        t.rows()
        if not delta:
            t.root()
    else:
        offset, entry, in_cache, what = problem
        assert isinstance(what, str) and offset >= 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=40), st.sampled_from([1, 2, 3])),
                min_size=0, max_size=8, unique_by=lambda t: t[0]))
def test_fuzz_well_formed_reference_tables_are_accepted(items):
    """Tables the reference writes from arbitrary names are accepted exactly when the names
    are valid paths."""
    es = []
    for name, kind in sorted(items):
        mode = {1: 0o100644, 2: 0o040755, 3: 0o120000}[kind]
        link = b"t" if kind == 3 else b""
        es.append({"path": name, "kind": kind, "mode": mode, "attrs": 0, "size": len(link),
                   "mtime_ns": 7, "hash": blake3.blake3(name).digest() if kind == 1 else bytes(32),
                   "link": link})
    table = ref.table_section(es)
    valid = all(b"\0" not in e["path"] and all(c not in (b"", b".", b"..") for c in e["path"].split(b"/"))
                for e in es)
    data = _encode_raw(table, len(es), root=ref.root_hash(es))
    if valid:
        m = mf.loads(data)
        assert m.root == ref.root_hash(es) and [e.path for e in m] == [e["path"] for e in es]
    else:
        with pytest.raises(errors.ManifestCorrupt, match="malformed path"):
            mf.loads(data)


@pytest.mark.parametrize("path, valid", [
    (b"abcdefgh/ijklmnop/q", True), (b"abcdefghijklmnopqrst", True), (b"abcdefg/" * 5 + b"z", True),
    (b".../..a/a../.abcdefghij", True), (b"\xff" * 20, True),
    (b"abcdefghijklmno\0p", False), (b"abcdefgh//ijklmnop", False), (b"abcdefghijklmnop/", False),
    (b"abcdefghijklmnop/.", False), (b"abcdefghijklmnop/..", False), (b"./abcdefghijklmnop", False),
    (b"abcdefghijklmnop/../x", False), (b"/abcdefghijklmnop", False), (b"abcdefgh.." + b"/" + b"..", False),
])
def test_long_paths_are_checked_past_every_word(path, valid):
    """The loader checks paths 8 bytes at a time: a '/', a NUL or a dot component anywhere,
    at a word's edge or inside one, is found."""
    es = [{"path": path, "kind": 1, "mode": 0o100644, "attrs": 0, "size": 0, "mtime_ns": 7,
           "hash": blake3.blake3(path).digest(), "link": b""}]
    data = _encode_raw(ref.table_section(es), 1, root=ref.root_hash(es))
    if valid:
        assert [e.path for e in mf.loads(data)] == [path]
    else:
        with pytest.raises(errors.ManifestCorrupt, match="malformed path"):
            mf.loads(data)


def _utf8_tree(root: Path) -> None:
    """Names whose bytes that are not UTF-8 sit in a component shared with the path before
    (b"d\xff/..."), or right after one (b"e\xc3\xa9/x\xc3", a cut character)."""
    for rel in (b"d\xff/a", b"d\xff/b", b"d\xffz", b"dx/a", b"e\xc3\xa9/x\xc3", b"e\xc3\xa9/x\xc3\xa9",
                b"e\xc3\xa9/y", b"\xc3\xa9/\xc3\xa9\xc3\xa9/ok"):
        path = os.path.join(os.fsencode(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rel)


def test_utf8_flags_past_shared_components_equal_the_reference(tmp_path):
    """A scan and a load look at UTF-8 only past the components a path shares with the path
    before it: the flags still equal the reference's, and the file loads."""
    if sys.platform == "win32":
        need("names that are not UTF-8")
    _utf8_tree(tmp_path / "t")
    m = mf.build(tmp_path / "t")
    want = ref.entries(tmp_path / "t")
    assert m._table.table_section() == ref.table_section(want)
    assert not m.get(b"d\xff/a").path_is_utf8 and not m.get(b"e\xc3\xa9/x\xc3").path_is_utf8
    assert m.get(b"e\xc3\xa9/x\xc3\xa9").path_is_utf8 and m.get(b"e\xc3\xa9/y").path_is_utf8
    assert mf.loads(m.to_bytes()) == m


def test_utf8_flags_wherever_the_one_byte_past_ascii_sits(tmp_path):
    """Names of 1 to 19 bytes with one byte that is not ASCII (a lone 0xff, or the first byte
    of a "\xc3\xa9") at each place, the last word's included: the flags equal the reference's,
    in a scan and in a load."""
    if sys.platform == "win32":
        need("names that are not UTF-8")
    root = tmp_path / "t"
    root.mkdir()
    for n in range(1, 20):
        for at in range(n):
            for odd in (b"\xff", b"\xc3\xa9"):
                name = b"a" * at + odd + b"b" * (n - at - 1)
                open(os.path.join(os.fsencode(root), name), "wb").close()
    m = mf.build(root)
    assert m._table.table_section() == ref.table_section(ref.entries(root))
    assert sum(not e.path_is_utf8 for e in m) == sum(range(1, 20))
    assert mf.loads(m.to_bytes()) == m


@pytest.mark.parametrize("paths, wrong", [
    ([b"d/x", b"d/\xff", b"d/\xff/a"], 2),             # the bad byte in the shared component
    ([b"e/\xc3\xa9", b"e/\xc3\xa9/\xc3"], 1),           # a cut character after it
    ([b"e/\xc3\xa9/\xc3", b"e/\xc3\xa9/\xc3\xa9"], 1),  # valid after a path that is not
])
def test_a_utf8_flag_wrong_past_a_shared_component_is_refused(paths, wrong):
    """A load checks a path's UTF-8 flag only past the components it shares with the path
    before it (that path's flag, checked, vouches for them): a wrong flag is still found."""
    es = [{"path": p, "kind": 2, "mode": 0o40755, "attrs": 0, "size": 0, "mtime_ns": 7,
           "hash": bytes(32), "link": b""} for p in paths]
    table = ref.table_section(es)
    assert mf.loads(_encode_raw(table, len(es), root=ref.root_hash(es))).root == ref.root_hash(es)
    damaged = bytearray(table)
    damaged[len(table) - len(es) + wrong] ^= 1  # the flags column ends the table section
    with pytest.raises(errors.ManifestCorrupt, match="UTF-8 flags do not match"):
        mf.loads(_encode_raw(bytes(damaged), len(es), root=ref.root_hash(es)))


@pytest.mark.parametrize("size", [0, 100, 70_000])
def test_load_reads_a_manifest_through_a_pipe_and_a_file_alike(tmp_path, size):
    """load reads a regular file into one buffer of its size, a pipe to its end: the same
    manifest either way, and a file that is no manifest is refused after its first bytes."""
    if not hasattr(os, "mkfifo"):
        need("named pipes")
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "f").write_bytes(b"x" * size)
    m = mf.build(tree)
    m.save(tmp_path / "m.bgm")
    assert mf.load(tmp_path / "m.bgm") == m
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = m.to_bytes()
    writer = threading.Thread(target=lambda: fifo.write_bytes(data))
    writer.start()
    try:
        assert mf.load(fifo) == m
    finally:
        writer.join()
    (tmp_path / "other").write_bytes(b"not a manifest" * 1000)
    with pytest.raises(errors.ManifestCorrupt, match="bad magic"):
        mf.load(tmp_path / "other")


# ---- deltas -------------------------------------------------------------------------------

def _change_tree(root: Path) -> None:
    (root / "a.txt").write_bytes(b"changed\n")                 # modified
    os.chmod(root / "run.sh", 0o700)                            # mode
    os.unlink(root / "link")
    os.symlink("run.sh", root / "link")                         # link target
    shutil.rmtree(root / "a" / "b" / "c")                       # deleted subtree
    (root / "new").mkdir()
    (root / "new" / "n.txt").write_bytes(b"n")                  # added
    os.unlink(root / "a-b" / "x")
    (root / "a-b" / "x").mkdir()                                # type change
    os.utime(root / "empty", ns=(5, 5))                         # mtime only


def test_delta_applied_to_its_base_gives_the_new_full_manifest(tree, tmp_path):
    base = mf.build(tree)
    _change_tree(tree)
    new = mf.build(tree)
    delta = new.delta_from(base)
    assert delta.is_delta and delta.base_root == base.root and delta.root == new.root
    changed = {e.path for e in delta}
    assert changed == {b"a.txt", b"run.sh", b"link", b"a/b/c", b"a/b/c/deep.txt", b"new",
                       b"new/n.txt", b"a-b/x", b"empty",
                       b"a/b", b"a-b"}  # directories whose mtime moved with their entries
    assert {e.path for e in delta if e.kind == "deleted"} == {b"a/b/c", b"a/b/c/deep.txt"}
    assert len(delta) < len(new)
    back = mf.loads(delta.to_bytes())
    applied = base.apply(back)
    assert applied == new
    assert applied._table.table_section() == new._table.table_section()
    # the cache rows of what changed come from the delta
    i = new._table.find(b"a.txt")
    assert applied._table.stat_cache(applied._table.find(b"a.txt")) == new._table.stat_cache(i)


NAMES = [b"a", b"a-b", b"a.c", b"a/x", b"a/y", b"b", b"b/c", b"b/c/d", b"\xff", b"z"]


def _entry(path: bytes, kind: int, salt: int) -> dict:
    mode = {1: 0o100644 | (salt & 0o100), 2: 0o040755, 3: 0o120000}[kind]
    link = b"target%d" % salt if kind == 3 else b""
    return {"path": path, "kind": kind, "mode": mode, "attrs": 0,
            "size": {1: salt, 2: 0, 3: len(link)}[kind], "mtime_ns": salt * 1000,
            "hash": blake3.blake3(b"%d" % salt).digest() if kind == 1 else bytes(32), "link": link}


def _manifest_of(es: list[dict]):
    return mf.loads(_encode_raw(ref.table_section(es), len(es), root=ref.root_hash(es)))


_state = st.dictionaries(st.sampled_from(NAMES), st.tuples(st.sampled_from([1, 2, 3]), st.integers(0, 3)))


@settings(max_examples=300, deadline=None)
@given(_state, _state)
def test_fuzz_delta_then_apply_gives_the_new_state(before, after):
    base = _manifest_of([_entry(p, *before[p]) for p in sorted(before)])
    new = _manifest_of([_entry(p, *after[p]) for p in sorted(after)])
    delta = new.delta_from(base)
    assert {e.path for e in delta if e.kind == "deleted"} == set(before) - set(after)
    applied = base.apply(mf.loads(delta.to_bytes()))
    assert applied == new and applied.root == ref.root_hash([_entry(p, *after[p]) for p in sorted(after)])


def test_delta_of_equal_manifests_is_empty(tree):
    m = mf.build(tree)
    d = m.delta_from(m)
    assert len(d) == 0 and m.apply(d) == m


def test_delta_refuses_the_wrong_base(tree):
    base = mf.build(tree)
    (tree / "a.txt").write_bytes(b"other\n")
    other = mf.build(tree)
    (tree / "a.txt").write_bytes(b"third\n")
    delta = mf.build(tree).delta_from(other)
    with pytest.raises(errors.DeltaBaseMismatch):
        base.apply(delta)
    with pytest.raises(errors.InvalidInput):
        delta.apply(delta)


def test_delta_whose_tombstone_misses_the_base_is_refused(tree):
    base = mf.build(tree)
    (tree / "zz").write_bytes(b"z")
    with_zz = mf.build(tree)
    os.unlink(tree / "zz")
    delta = mf.build(tree).delta_from(with_zz)  # deletes zz, which base lacks
    forged = mf.Manifest(delta._table, delta.root, base.root)
    with pytest.raises(errors.IntegrityError, match="zz"):
        base.apply(forged)


# ---- change detection: the racy-git rule ---------------------------------------------------

def test_unchanged_tree_reads_no_file(tree):
    first = mf.build(tree, clock=later)
    assert first.files_read == 12
    opens = Opens(tree)
    try:
        again = mf.build(tree, first)
        assert opens.files() == set()
    finally:
        opens.close()
    assert again.files_read == 0 and again == first


def test_only_suspects_are_read(tree):
    first = mf.build(tree, clock=later)
    old = os.stat(tree / "a" / "one.bin")
    (tree / "a" / "one.bin").write_bytes(os.urandom(5000))  # same size ...
    os.utime(tree / "a" / "one.bin", ns=(old.st_atime_ns, old.st_mtime_ns))  # ... same mtime
    (tree / "sp ace").write_bytes(b"SPACE!")
    opens = Opens(tree)
    try:
        again = mf.build(tree, first)
        assert opens.files() == {b"a/one.bin", b"sp ace"}
    finally:
        opens.close()
    assert again.files_read == 2
    assert again.get("a/one.bin").hash == blake3.blake3((tree / "a" / "one.bin").read_bytes()).digest()


def test_a_file_written_just_before_the_scan_is_read_again(tree):
    first = mf.build(tree, clock=just_written(tree, tree / "fresh", b"fresh"))  # in its racy window
    st1 = os.stat(tree / "fresh")
    opens = Opens(tree)
    try:
        again = mf.build(tree, first)
        assert opens.files() == {b"fresh"}
    finally:
        opens.close()
    st2 = os.stat(tree / "fresh")
    assert (st1.st_mtime_ns, st1.st_ctime_ns, st1.st_size) == (st2.st_mtime_ns, st2.st_ctime_ns, st2.st_size)
    assert again.files_read == 1


@pytest.fixture(scope="module")
def seconds_fs():
    """An ext4 with 128-byte inodes, whose timestamps are whole seconds: a timestamp tick of a
    second, as on FAT, HFS+ or ext3.  (Linux 6.13+ gives ext4, XFS and tmpfs multigrain
    timestamps: once a file's stat has been read, its next change gets a finer stamp, so a
    same-tick rewrite cannot be staged there.)"""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import loopfs
    from conftest import need

    reason = loopfs.can_mount()
    if reason:
        need(reason)
    loopfs.MKFS.setdefault("ext4-seconds", ["mkfs.ext4", "-q", "-F", "-I", "128"])
    loopfs.APT_PACKAGE.setdefault("ext4-seconds", "e2fsprogs")
    lm = loopfs.mount("ext4-seconds", 64)
    try:
        yield lm.path
    finally:
        loopfs.unmount(lm)


def _rewritten_in_the_scan_tick(root: Path) -> mf.Manifest:
    """A manifest of root/f holding "A"*64, after which f is rewritten with "B"*64 in the same
    second: size, mtime, ctime and inode all equal what the manifest cached."""
    f = root / "f"
    for _attempt in range(20):  # an attempt takes milliseconds: one crossing a second is retried
        f.write_bytes(b"A" * 64)
        first = mf.build(root, threads=1)
        f.write_bytes(b"B" * 64)
        st = os.stat(f)
        cached_ctime = first._table.stat_cache(first._table.find(b"f"))[0]
        if (st.st_mtime_ns, st.st_ctime_ns) == (first.get("f").mtime_ns, cached_ctime):
            return first
    pytest.fail("could not rewrite a file within one second")


def test_modified_in_the_same_timestamp_tick_is_detected(seconds_fs):
    """The racy-git case: rewritten with the same size in the same tick as the manifest's
    scan, the file's stat (size, mtime, ctime, inode) is unchanged; only the racy rule
    makes the next build read it."""
    root = Path(tempfile.mkdtemp(prefix="racy-", dir=seconds_fs))  # the mount is shared: one per run
    first = _rewritten_in_the_scan_tick(root)
    assert first._table.racy_window_ns == 2_000_000_000  # whole-second stamps: the coarse window
    assert first.get("f").hash == blake3.blake3(b"A" * 64).digest()
    again = mf.build(root, first)
    assert again.get("f").hash == blake3.blake3(b"B" * 64).digest()
    assert again.files_read == 1


def test_a_previous_manifest_without_cache_trusts_nothing(tree):
    cached = mf.build(tree, clock=later)
    assert mf.build(tree, cached).files_read == 0  # the cache alone makes the difference
    bare = mf.loads(cached.to_bytes(stat_cache=False))
    assert mf.build(tree, bare).files_read == 12


def test_the_cache_of_another_copy_is_not_trusted(tree, tmp_path):
    first = mf.build(tree, clock=later)
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy, symlinks=True)
    (copy / "a.txt").write_bytes(b"HELLO\n")
    assert mf.build(copy, first).get("a.txt").hash == blake3.blake3(b"HELLO\n").digest()


# ---- a copy's manifest from its source's: the copy rule ---------------------------------------

def _clone(src: Path, dst: Path) -> Path:
    from bodega.storage import fs

    fs.clone_tree(src, dst)
    return dst


def test_a_copy_of_an_unchanged_tree_reads_no_file(tree, tmp_path):
    source = mf.build(tree, clock=later)
    copy = _clone(tree, tmp_path / "copy")
    opens = Opens(copy)
    try:
        m = mf.build_copy(copy, tree, source)
        assert opens.files() == set()
    finally:
        opens.close()
    assert m.files_read == 0
    assert m == mf.build(copy) and m.root == source.root
    # the stat cache is the copy's own (its files are new: in the racy window of this scan)
    i = m._table.find(b"a.txt")
    assert m._table.stat_cache(i)[1] == os.stat(copy / "a.txt").st_ino != os.stat(tree / "a.txt").st_ino
    assert m._table.scan_start_ns > os.stat(copy / "a.txt").st_ctime_ns


def test_a_source_file_changed_after_its_manifest_is_read_from_the_copy(tree, tmp_path):
    source = mf.build(tree, clock=later)
    f = tree / "a" / "one.bin"
    old = os.stat(f)
    f.write_bytes(os.urandom(5000))  # same size ...
    os.utime(f, ns=(old.st_atime_ns, old.st_mtime_ns))  # ... same mtime: only the ctime tells
    copy = _clone(tree, tmp_path / "copy")
    m = mf.build_copy(copy, tree, source)
    assert m.files_read == 1
    assert m.get("a/one.bin").hash == blake3.blake3((copy / "a" / "one.bin").read_bytes()).digest()
    assert m == mf.build(copy)


def test_a_file_changed_in_the_copy_or_new_there_is_read(tree, tmp_path):
    source = mf.build(tree, clock=later)
    copy = _clone(tree, tmp_path / "copy")
    (copy / "a.txt").write_bytes(b"HELLO\n")
    (copy / "new").write_bytes(b"new")
    (tree / "only-in-source").write_bytes(b"gone")
    m = mf.build_copy(copy, tree, source)
    assert m.files_read == 2
    assert m == mf.build(copy)


def test_a_copy_without_a_source_manifest_reads_every_file(tree, tmp_path):
    copy = _clone(tree, tmp_path / "copy")
    m = mf.build_copy(copy, tree, None)
    assert m.files_read == 12 and m == mf.build(copy)


def test_a_copy_whose_source_cannot_be_scanned_reads_every_file(tree, tmp_path):
    source = mf.build(tree, clock=later)
    copy = _clone(tree, tmp_path / "copy")
    m = mf.build_copy(copy, tmp_path / "no-such-source", source)
    assert m.files_read == 12 and m == mf.build(copy)


def test_a_copy_of_a_file_modified_in_the_tick_of_the_source_scan_is_read(seconds_fs):
    """The racy case through a copy: rewritten in the same second as the source's scan, the
    source file's stat is unchanged, and so is the copy's size and mtime; only the racy rule
    keeps the source's stale hash out of the copy's manifest."""
    root = Path(tempfile.mkdtemp(prefix="racy-copy-", dir=seconds_fs))  # the mount is shared: one per run
    source = _rewritten_in_the_scan_tick(root)
    copy = _clone(root, root.with_name(root.name + "-2"))
    m = mf.build_copy(copy, root, source)
    assert m.get("f").hash == blake3.blake3(b"B" * 64).digest()
    assert m.files_read == 1


# ---- files that change, vanish or cannot be read ------------------------------------------

def test_a_file_that_keeps_changing_while_read_is_reported(tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    busy = root / "busy.log"
    busy.write_bytes(os.urandom(32 << 20))
    stop = threading.Event()

    def writer():
        with open(busy, "r+b") as f:
            while not stop.is_set():
                f.seek(0)
                f.write(os.urandom(4096))
                f.flush()

    t = threading.Thread(target=writer)
    t.start()
    try:
        with pytest.raises(errors.ChangedWhileReading, match="busy.log"):
            for _ in range(20):  # each build reads the file twice; one clean read is rare
                mf.build(root)
    finally:
        stop.set()
        t.join()


def _many_files_then(root: Path, last: bytes) -> Path:
    """400 small files and "zz-last", read last of all with one thread."""
    root.mkdir()
    for i in range(400):
        (root / f"f{i:04d}").write_bytes(b"x" * 100)
    (root / "zz-last").write_bytes(last)
    return root


def test_a_file_that_vanishes_before_it_is_read_is_reported(tmp_path):
    root = _many_files_then(tmp_path / "t", b"last")
    gone = []

    def progress(p):
        if not gone:
            os.unlink(root / "zz-last")
            gone.append(1)

    with pytest.raises(errors.ChangedWhileReading, match="zz-last"):
        mf.build(root, threads=1, progress=progress)


def test_a_file_replaced_between_scan_and_read_is_described_as_read(tmp_path):
    root = _many_files_then(tmp_path / "t", b"short")
    done = []

    def progress(p):
        if not done:
            (root / "zz-last").write_bytes(b"much longer now")
            done.append(1)

    m = mf.build(root, threads=1, progress=progress)
    e = m.get("zz-last")
    assert e.size == len(b"much longer now")
    assert e.hash == blake3.blake3(b"much longer now").digest()


def test_an_unreadable_file_is_named():
    if os.geteuid() != 0:
        need("needs root to drop to another user")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="bodega-unreadable-", dir="/var/tmp"))
    try:
        os.chmod(base, 0o755)
        (base / "ok").write_bytes(b"ok")
        (base / "secret").write_bytes(b"secret")
        os.chmod(base / "secret", 0o000)
        code = ("import os, bodega, bodega.storage.manifest, concurrent.futures\n"
                "from bodega import errors\n"
                "os.setgid(65534); os.setuid(65534)\n"
                "try:\n    bodega.manifest.build(%r)\n"
                "except errors.AccessDenied as e:\n    print('DENIED', e)\n" % str(base))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(SRC)})
    finally:
        shutil.rmtree(base)
    assert out.returncode == 0, out.stderr
    assert "DENIED" in out.stdout and str(base / "secret") in out.stdout


def test_progress_reports_the_bytes_to_read(tree):
    seen = []
    m = mf.build(tree, threads=1, progress=seen.append)
    assert seen
    assert seen[-1].bytes_total == m.total_file_bytes()
    assert seen[-1].files_total == 12


def test_atheris_fuzzes_the_reader():
    try:
        import atheris  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from conftest import need

        need("atheris is not installed (pip install atheris)")
    script = Path(__file__).with_name("fuzz_manifest.py")
    out = subprocess.run([sys.executable, str(script), "-runs=20000", "-max_len=2048"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(SRC)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Done 20000 runs" in out.stderr


def test_save_replaces_atomically_with_the_umask_mode(tree, tmp_path):
    target = tmp_path / "m.bgm"
    target.write_bytes(b"old")
    old_umask = os.umask(0o022)
    try:
        mf.build(tree).save(target)
    finally:
        os.umask(old_umask)
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644)
    assert mf.load(target).root == mf.build(tree).root
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_hashed_files_lists_every_file_with_its_size_and_hash(tree):
    m = mf.build(tree)
    files = {f.path: f for f in m.hashed_files()}
    assert set(files) == {e.path for e in m if e.kind == "file"}
    one = files[b"a/one.bin"]
    assert (one.size, one.digest) == (os.stat(tree / "a" / "one.bin").st_size, m.get("a/one.bin").hash)

def test_a_drafts_hashed_rows_skip_its_unread_files_natively(tree):
    """A draft's unread files (zero hash) are not listed as hashed, on the native side too."""
    draft = mf.build_draft(tree, None, unread_min=1)
    unread = {f.path for f in draft.unread}
    files = {e.path for e in mf.build(tree) if e.kind == "file" and e.link is None}
    assert unread and unread < files
    every = draft._table.hashed_files()
    known = draft._table.hashed_files(known_only=True)
    assert {r[0] for r in every} == files  # zero hashes included
    assert {r[0] for r in known} == files - unread and all(r[2] != bytes(32) for r in known)
    assert [r[0] for r in draft.hashed_rows()] == [r[0] for r in known]
    built = mf.build(tree)
    assert {r[0]: r[2] for r in known} == {p: built.get(p).hash for p in files - unread}


def test_a_files_bytes_are_the_same_from_its_tables_frames_made_beforehand(tree, monkeypatch):
    """to_bytes with table_frames() made once (shared by a snapshot file and the live
    manifest) writes exactly what it writes alone, with or without the stat cache; frames
    of another table's block count are refused."""
    monkeypatch.setattr(manifest_file, "BLOCK_RAW_MAX", 256)  # several blocks per section
    m = mf.build(tree)
    frames = m.table_frames()
    assert len(frames) > 2
    for cache in (False, True):
        assert m.to_bytes(stat_cache=cache, table_frames=frames) == m.to_bytes(stat_cache=cache)
    assert mf.loads(m.to_bytes(stat_cache=True, table_frames=frames)).root == m.root
    with pytest.raises(ValueError, match="table frames"):
        m.to_bytes(table_frames=frames[:-1])


def test_a_table_given_by_its_length_with_its_frames_encodes_the_same_bytes(tree, monkeypatch):
    """encode given a table's frames reads only its length (to_bytes copies the native table
    section no more once it is compressed): the file is the one its bytes give; a length
    without frames, or frames of another block count, are refused."""
    monkeypatch.setattr(manifest_file, "BLOCK_RAW_MAX", 256)  # several blocks per section
    m = mf.build(tree)
    t = m._table
    table = t.table_section()
    assert t.table_len == len(table)
    frames = manifest_file.compress_section(table)

    def sections(table_or_len: bytes | int) -> manifest_file.Sections:
        return manifest_file.Sections(len(t), t.delta, m.root, None, table_or_len, t.cache_section(),
                                      t.scan_start_ns, t.racy_window_ns, t.owners)

    whole = manifest_file.encode(sections(table))
    assert manifest_file.encode(sections(len(table)), frames) == whole
    assert mf.loads(whole).root == m.root
    with pytest.raises(ValueError, match="needs its frames"):
        manifest_file.encode(sections(len(table)))
    with pytest.raises(ValueError, match="table frames"):
        manifest_file.encode(sections(len(table)), frames[:-1])


def test_a_tables_path_sizes_are_made_as_the_rows_asked_for(tree):
    """path_sizes makes each (path, size) as the given tuple class (a draft's UnreadFiles,
    made in C), equal to the plain tuples, kept alive after a collection; a class that is
    not a plain tuple is refused."""
    import gc

    table = mf.build(tree)._table
    idx = [i for i in range(len(table)) if table.row(i)[1] == "file"]
    plain = table.path_sizes(idx)
    rows = table.path_sizes(idx, mf.UnreadFile)
    gc.collect()
    assert rows == plain and all(type(r) is mf.UnreadFile for r in rows)
    assert [(r.path, r.size) for r in rows] == [(table.path(i), table.row(i)[4]) for i in idx]
    assert all(type(r) is tuple for r in plain)
    with pytest.raises(TypeError):
        table.path_sizes(idx, list)
    with pytest.raises(IndexError):
        table.path_sizes([len(table)], mf.UnreadFile)
