"""The repository explains itself: no text file points outside it, and every section mark (the sign followed by a
number) names a section or numbered item that exists.

A mark means docs/METHODS.md unless it is qualified: by another document's name right before it
("docs/BENCHMARKS.md", "BENCHMARKS"), then it must be a numbered heading of that document; or by a paper's or a
standard's name ("SUEDE", "ST-MoE"), then it is a section of that source and is not checked here. Marks listed
after a qualified one ("METHODS.md <mark>, <mark>") share its qualifier. In docs/BENCHMARKS.md a bare mark is one of
its own sections.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTION = "\N{SECTION SIGN}"
TEXT_SUFFIXES = (".py", ".md", ".sh", ".yaml", ".yml", ".toml", ".txt", ".json", ".cfg", ".ini")
SKIP_DIRS = {".venv", ".git", "mlruns", "mlflow_server", ".padsweep", "__pycache__", ".pytest_cache", ".ruff_cache"}
METHODS = "docs/METHODS.md"
SELF_NUMBERED = {"docs/BENCHMARKS.md"}  # a bare mark in these documents is one of their own sections

# Text that points at files the repository does not contain. A relative path that leaves the repository is found by
# RELATIVE below, whatever folder it names; these are the absolute path of the machine's work area and the old
# spec's file name, which a citation could use without any path.
OUTSIDE = {
    "/work/": re.compile(r"/work/"),
    "methods.md (the outside spec)": re.compile(r"(?<![A-Za-z_])methods\.md"),
    "papers cited by file number": re.compile(r"\bpapers? \(?00[0-4]\b|\(00[0-4]\)|\b00[0-4]_[0-9a-f]{16}\b"),
}
RELATIVE = re.compile(r"(?<![\w.~/-])((?:\.\./)+[\w.\-/]*)")

# The anchor grammar: 5, 7.1, 3(f), 5(a).3, 4(f)-4, 5(a).9-10, 9 #4.
ANCHOR = r"\d+(?:\.\d+)?(?:\([a-z]\))?(?:[.\-]\d+(?:-\d+)?)?(?: #\d+)?"
MARK = re.compile(SECTION + r"\s?(" + ANCHOR + ")")
HEADING = re.compile(r"^#{1,6}\s+" + SECTION + r"?(" + ANCHOR + r")(?=[\s:.)]|$)")
ITEM = re.compile(r"^\s*(?:[-*+]\s+|\d+\.\s+)?\*\*" + SECTION + r"?(" + ANCHOR + r")\*\*")
DOC_HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)[.\s]")

# Sources whose own sections may be cited: "<name> <mark>".
PAPERS = ("MMoE", "BIG-MoE", "MoAE-CR", "MoAE", "ATR-FAS", "SUEDE", "ST-MoE", "Switch", "Switch Transformer",
          "La-SoftMoE", "Soft MoE", "SoftMoE", "FLIP", "DeepSeekMoE", "Mixtral", "PEER", "CDCN", "vmoe", "open_clip",
          "ISO/IEC 30107-3", "ISO/IEC 30107")
DOC = r"(?:docs/)?(?P<doc>[A-Z][A-Z_]+)(?:\.md)?"
# A paper's name is tried first (longest first), so an all-capitals name like SUEDE is not read as a document.
PAPER = "|".join(re.escape(p) for p in sorted(PAPERS, key=len, reverse=True))
QUALIFIER = re.compile(r"(?:(?P<paper>" + PAPER + r")|" + DOC + r")\s*$")
LIST_JOIN = re.compile(r"^\s*(?:,|;|/|and|or|to|&|\u2013|-)?\s*$")  # "<mark>, <mark>", "<mark> and <mark>"
COMMENT_BREAK = re.compile(r"\s*\n\s*(?:#+|//|\*)?\s*")  # a reference may wrap onto the next comment line


@dataclass(frozen=True)
class Mark:
    path: str
    line: int
    anchor: str  # as written
    target: str  # repository path of the document it must resolve in, or "" for a paper's own section


def repo_files(root: Path) -> list[str]:
    """Text files the repository holds (tracked or new, not ignored), relative to ``root``."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        out = [str(p.relative_to(root)) for p in root.rglob("*")
               if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(root).parts)]
    return sorted(p for p in out if (root / p).is_file() and is_text(p))


def is_text(path: str) -> bool:
    return path.endswith(TEXT_SUFFIXES) or path.startswith(".ci/")


def read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8", errors="replace")


def canonical(anchor: str) -> list[str]:
    """The anchors a mark needs: "4(f)-4" is item 4(f).4; a range "5(a).9-10" needs both ends."""
    anchor = re.sub(r"\)-(\d)", r").\1", anchor)
    head, sep, rest = anchor.rpartition(".")
    if sep and "-" in rest and "#" not in rest:
        first, last = rest.split("-", 1)
        return [f"{head}.{first}", f"{head}.{last}"]
    return [anchor]


def methods_anchors(text: str) -> set[str]:
    """Headings (``### 5(a) ...``) and bold item labels (``- **5(a).3** ...``, ``- **9 #4** ...``)."""
    found = set()
    for line in text.splitlines():
        m = HEADING.match(line) or ITEM.match(line)
        if m:
            found.add(m.group(1))
    return found


def doc_sections(text: str) -> set[str]:
    return {m.group(1) for line in text.splitlines() if (m := DOC_HEADING.match(line))}


def qualifier_target(before: str, path: str) -> str | None:
    """The document a mark preceded by ``before`` points into ("" = a paper's section), or None if unqualified."""
    m = QUALIFIER.search(COMMENT_BREAK.sub(" ", before[-80:]))
    if not m:
        return None
    if m.group("paper"):
        return ""
    doc = m.group("doc")
    return f"docs/{doc}.md" if doc != "README" else "README.md"


def marks(path: str, text: str) -> list[Mark]:
    """Every section mark of a file with the document it must resolve in."""
    default = path if path in SELF_NUMBERED else METHODS
    found, prev_end, prev_target = [], None, None
    for m in MARK.finditer(text):
        between = COMMENT_BREAK.sub(" ", text[prev_end:m.start()]) if prev_end is not None else None
        if between is not None and LIST_JOIN.match(between):
            target = prev_target
        else:
            target = qualifier_target(text[: m.start()], path)
            target = default if target is None else target
        found.append(Mark(path, text.count("\n", 0, m.start()) + 1, m.group(1), target))
        prev_end, prev_target = m.end(), target
    return found


def defined_anchors(root: Path, doc: str, cache: dict[str, set[str] | None]) -> set[str] | None:
    if doc not in cache:
        file = root / doc
        if not file.is_file():
            cache[doc] = None
        else:
            text = file.read_text(encoding="utf-8")
            cache[doc] = methods_anchors(text) if doc == METHODS else doc_sections(text)
    return cache[doc]


def unresolved_marks(root: Path) -> list[str]:
    cache: dict[str, set[str] | None] = {}
    bad = []
    for path in repo_files(root):
        for mark in marks(path, read(root, path)):
            if not mark.target:
                continue
            defined = defined_anchors(root, mark.target, cache)
            if defined is None:
                bad.append(f"{mark.path}:{mark.line}: {SECTION}{mark.anchor} -> {mark.target} does not exist")
                continue
            missing = [a for a in canonical(mark.anchor) if a not in defined]
            if missing:
                bad.append(f"{mark.path}:{mark.line}: {SECTION}{mark.anchor} is not a section or numbered item of "
                           f"{mark.target} (missing {missing})")
    return bad


def outside_references(root: Path) -> list[str]:
    bad = []
    for path in repo_files(root):
        if path == "tests/unit/test_self_contained.py":
            continue  # this file names the patterns it refuses
        for number, line in enumerate(read(root, path).splitlines(), 1):
            bad += [f"{path}:{number}: {what}: {line.strip()[:120]}" for what, rx in OUTSIDE.items() if rx.search(line)]
            for rel in RELATIVE.findall(line):
                if leaves(root, Path(os.path.normpath(root / Path(path).parent / rel))):
                    bad.append(f"{path}:{number}: relative path {rel!r} leaves the repository: {line.strip()[:120]}")
    return bad


def leaves(root: Path, target: Path) -> bool:
    """A path outside ``root``, or one through a folder the repository does not have: ``../<folder>/...`` written
    from docs/ (meaning "beside the repository") lands inside it, in a folder that is not there."""
    if target == root:
        return False
    if root not in target.parents:
        return True
    parts = target.relative_to(root).parts
    return len(parts) > 1 and not (root / parts[0]).is_dir()


def test_no_file_points_outside_the_repository():
    bad = outside_references(REPO)
    assert not bad, "references outside the repository:\n" + "\n".join(bad)


def test_every_section_mark_resolves():
    bad = unresolved_marks(REPO)
    assert not bad, "section marks that name nothing (define them in docs/METHODS.md or qualify them):\n" + \
        "\n".join(bad)


def test_methods_defines_the_sections_the_code_is_organised_by():
    anchors = methods_anchors(read(REPO, METHODS))
    expected = {"0", "1", "1.1", "1.2", "1.3", "7.1", "7.2", "7.3", "9", "10"}
    expected |= {f"{n}({p})" for n in range(2, 7) for p in "abcdef"}
    assert not expected - anchors, f"missing from {METHODS}: {sorted(expected - anchors)}"


# The checks themselves, on a copy of the parts of the repository they read.
def _mini_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _s(anchor: str) -> str:
    return SECTION + anchor


MINI_METHODS = ("# Methods\n## 5 ATR\n### 5(a) Equations\n- **5(a).3** DN\n- **5(a).9** gate\n- **5(a).10** fusion\n"
                "### 4(f) Choices\n- **4(f).4** repaired\n## 9 Checks\n- **9 #4** mask\n")
MINI_BENCH = "# Benchmarks\n## 6. Early stopping\n## 7. Tables\n"


def test_marks_resolve_with_qualifiers_lists_and_aliases(tmp_path):
    code = (f"# METHODS.md {_s('5(a).3')}, {_s('5(a).9-10')}\n# repaired ({_s('4(f)-4')})\n"
            f"# docs/BENCHMARKS.md {_s('6')}; BENCHMARKS {_s('7')}\n# SUEDE {_s('4')}, ST-MoE {_s('3.3')}\n"
            f"# METHODS.md {_s('9 #4')}\n")
    root = _mini_repo(tmp_path, {METHODS: MINI_METHODS, "docs/BENCHMARKS.md": MINI_BENCH + f"see {_s('6')}\n",
                                 "pkg/mod.py": code})
    assert unresolved_marks(root) == []


@pytest.mark.parametrize("line, anchor", [
    (f"# METHODS.md {_s('5(b)')}", "5(b)"),  # no such heading
    (f"# bare {_s('5(a).4')}", "5(a).4"),  # a bare mark means METHODS.md
    (f"# METHODS.md {_s('5(a).3')}, {_s('5(a).9-11')}", "5(a).9-11"),  # a range needs both ends
    (f"# docs/BENCHMARKS.md {_s('8')}", "8"),
    (f"# the copy of {_s('12')}", "12"),
    (f"# docs/NOTES.md {_s('1')}", "1"),  # a document the repository does not have
])
def test_an_undefined_mark_fails_with_file_line_and_anchor(tmp_path, line, anchor):
    root = _mini_repo(tmp_path, {METHODS: MINI_METHODS, "docs/BENCHMARKS.md": MINI_BENCH,
                                 "pkg/mod.py": "x = 1\n" + line + "\n"})
    bad = unresolved_marks(root)
    assert len(bad) == 1 and bad[0].startswith("pkg/mod.py:2: " + _s(anchor)), bad


def test_every_mark_fails_without_the_methods_file(tmp_path):
    root = _mini_repo(tmp_path, {"pkg/mod.py": f"# METHODS.md {_s('1.1')}\n# bare {_s('2(a)')}\n"})
    assert len(unresolved_marks(root)) == 2


@pytest.mark.parametrize("text, what", [
    ("see ../notes-elsewhere/spec.md for details", "relative path"),  # from docs/: a folder beside the repository
    ("open /work/elsewhere/x.txt", "/work/"),
    ("the spec (methods.md " + "2(e))", "methods.md"),
    ("MMoE paper (000) Tables 1-2", "papers cited by file number"),
    ("see ../../../elsewhere/notes", "relative path"),
])
def test_a_reference_outside_the_repository_fails(tmp_path, text, what):
    root = _mini_repo(tmp_path, {"docs/NOTE.md": "# Note\n" + text + "\n", "pkg/ok.py": "path = '../pkg/ok.py'\n"})
    bad = outside_references(root)
    assert len(bad) == 1 and bad[0].startswith("docs/NOTE.md:2: ") and what in bad[0], bad
