"""Integrity checks of a manifest against its benchmark, and of one protocol's train/dev/test rows, before training.

Each check is vectorised (pandas: ``duplicated``, ``isin``, ``value_counts``, index intersections), so a manifest of
a million rows is checked in seconds, and each states what it found with counts and example paths. Refused:

- one image listed in several rows (identical or not): it would count twice, or carry two labels or splits;
- labels against attack types: label 1 (bona fide) must have ``attack_type`` "none" and label 0 (attack) a species
  (print, replay, ...; "unknown" when not known). Bona fide rows with a species are the sign of an inverted label
  convention (1 = attack), which would train a detector of the wrong class;
- a value of a column the benchmark's protocols select on (``subset``, ``attack_type``, ``fold``) that no protocol
  of the benchmark names and that the protocol being run leaves out (each selector that can take the row lists
  the values it keeps in that column): its rows vanish silently (one misspelt subset removed 9 % of a training
  set). A value another protocol names is this protocol's deliberate exclusion; a protocol that keeps every value
  of the column (no list, or only an exclude list) drops nothing by it. Override: ``data.allow_unselected=true``
  (the finding is then printed);
- a value a protocol's train or test selector keeps (a member set, an attack type) that selects no row of its split:
  the protocol would run on the rest as if it were the paper's (an import without 3DMAD, a DFDC without test
  videos). Values the published dataset has no rows of in that split are declared in the benchmark's JSON
  (``absent_by_design``). Override: ``data.allow_missing_values=true`` (the absent values are printed and noted);
- leakage between the protocol's selected train, dev and test rows: the same image file, the same image content
  under another path (preflight only, from the bytes it reads anyway), or the same subject. ``subject`` is a
  global identity: a manifest merging datasets that number their subjects independently must prefix the IDs
  (e.g. ``W/001``). An empty subject is "unknown" and is not compared. Overrides, for a protocol that shares data
  on purpose: ``data.allow_overlap=true`` (images), ``data.allow_subject_overlap=true`` (subjects);
- per-protocol membership columns (``split@<protocol>``, or a protocol's ``split_column``) that name no protocol of
  the benchmark, or that a protocol declares and the manifest lacks: the protocol would silently fall back to
  ``split``. The leakage checks above run on each protocol's own membership;
- videos (``video`` column): frames of one video that disagree on label, attack type, subject or subset (one video
  has one truth; ids reused by two source datasets look the same), one video in two of the protocol's splits
  (``data.allow_overlap=true``), and scoring per video without video ids.
"""

from __future__ import annotations

import difflib
from collections import defaultdict

import pandas as pd

from pad_core.data.images import ImageFacts
from pad_core.data.manifest import VIDEO, file_columns
from pad_core.data.protocols import SPLIT_PREFIX, Benchmark, Protocol, select_rows
from pad_core.errors import DataError

PAIRS = (("train", "dev"), ("train", "test"), ("dev", "test"))
EXAMPLES = 3  # example values per finding in a message


def selector_columns(benchmark: Benchmark) -> dict[str, set[str]]:
    """Every column the benchmark's protocols select on -> the values they name (to keep or to exclude)."""
    named: dict[str, set[str]] = defaultdict(set)
    for protocol in benchmark.protocols.values():
        for selector in (protocol.train, protocol.dev, protocol.test):
            for column, values in selector.items():
                if column == "exclude":
                    for col, excluded in values.items():
                        named[col].update(str(v) for v in excluded)
                else:
                    named[column].update(str(v) for v in values)
    return dict(named)


def require_selector_columns(frame: pd.DataFrame, benchmark: Benchmark, uri: str) -> None:
    missing = sorted(set(selector_columns(benchmark)) - set(frame.columns))
    if missing:
        raise DataError("data.manifest", uri, f"no column {missing}, which the protocols of {benchmark.name} "
                        "select rows by", "add the column(s), or set data.benchmark to the manifest's benchmark")


def duplicate_images(frame: pd.DataFrame, uri: str) -> None:
    """One row per image file (``path``): the same file twice would be counted twice, or carry two labels."""
    repeated = frame["path"].duplicated(keep=False)
    if not repeated.any():
        return
    rows = frame[repeated]
    differ = [c for c in rows.columns if c != "path" and (rows.groupby("path")[c].nunique() > 1).any()]
    how = f"differing in {differ}" if differ else "identical"
    example = rows["path"].iloc[0]
    where = rows.index[rows["path"] == example][:EXAMPLES].tolist()
    raise DataError("data.manifest", uri,
                    f"{rows['path'].nunique()} images are listed in more than one row ({len(rows)} rows, {how}), "
                    f"e.g. {example!r} in rows {where}",
                    "keep one row per image (an image has one label, one split and one subject), e.g. "
                    "frame.drop_duplicates('path') after resolving the differing rows")


def label_convention(frame: pd.DataFrame, uri: str) -> None:
    """label 1 <=> attack_type "none": anything else is a mislabelled row or an inverted convention."""
    live, species = frame["label"] == 1, frame["attack_type"]
    typed_live = live & (species != "none")
    untyped_attack = ~live & species.isin(["none", ""])
    if not typed_live.any() and not untyped_attack.any():
        return
    found = []
    if typed_live.any():
        kinds = species[typed_live].value_counts().head(EXAMPLES).to_dict()
        found.append(f"{int(typed_live.sum())} bona fide rows (label 1) carry an attack type {kinds}, "
                     f"e.g. {frame.loc[typed_live, 'path'].head(2).tolist()}")
    if untyped_attack.any():
        found.append(f"{int(untyped_attack.sum())} attack rows (label 0) have no attack type ('none' or empty), "
                     f"e.g. {frame.loc[untyped_attack, 'path'].head(2).tolist()}")
    if typed_live.sum() > live.sum() / 2:
        found.append("most bona fide rows carry one: the labels look inverted (here 1 means bona fide)")
    raise DataError("data.manifest", uri, "; ".join(found),
                    "give bona fide rows label 1 (live/bonafide) and attack_type none, attacks label 0 "
                    "(attack/spoof) and their species (print, replay, ...; 'unknown' if not known)")


def unselected_values(frame: pd.DataFrame, benchmark: Benchmark, protocol: Protocol, uri: str,
                      allow: bool) -> list[str]:
    """Values of selected-on columns that no protocol of the benchmark names and that ``protocol`` leaves out (a
    typo drops their rows); notes when allowed. Rows another protocol names, or that this one keeps, are not asked
    about: a deliberate exclusion, or nothing dropped."""
    found = []
    for column, known in sorted(selector_columns(benchmark).items()):
        values = frame[column].astype(str)
        stray = ~values.isin(known) & frame["split"].isin(_filtering_splits(protocol, column))
        if not stray.any():
            continue
        per_split = pd.crosstab(values[stray], frame.loc[stray, "split"])
        totals, example = frame["split"].value_counts(), frame.loc[stray, "path"].groupby(values[stray]).first()
        for value, counts in per_split.loc[per_split.sum(axis=1).sort_values(ascending=False).index[:8]].iterrows():
            rows = ", ".join(f"{int(n)} of {totals[split]} {split} rows" for split, n in counts.items() if n)
            found.append(f"{column}={value!r} ({rows}, e.g. {example[value]}){_closest(value, known)}")
        if len(per_split) > 8:
            found.append(f"and {len(per_split) - 8} more {column} values")
    if not found:
        return []
    text = (f"values that no protocol of {benchmark.name} names, so protocol {protocol.name} leaves their rows "
            f"out: {'; '.join(found)}")
    if allow:
        return [text + " (data.allow_unselected=true)"]
    raise DataError("data.manifest", uri, text, "correct the names in the manifest (or the protocol definition), "
                    "or set data.allow_unselected=true if those rows are meant to be left out")


def absent_values(frame: pd.DataFrame, benchmark: Benchmark, protocol: Protocol, parts: dict[str, pd.DataFrame],
                  uri: str, allow: bool) -> list[str]:
    """Values a protocol's selectors keep (a member set, an attack type) that select no row of their split, given
    the selector's other columns: the protocol would run on what is there and its table row would sit next to the
    paper's numbers as if it were the paper's protocol (a JFSFDB import without 3DMAD trains joint.intra on three
    sets). Train and test are checked: they define the table. Dev is padsweep's tuning split (carved per subset,
    so a small subset may get none, and a dev selector may list alternatives, e.g. UniAttackData P2.x's dev takes
    the named category or "unknown"). A split that selects nothing at all is left to the empty-split refusal."""
    found, by_design = [], benchmark.absent_by_design
    for split, selector, splits in (("train", protocol.train, ("train",)), ("test", protocol.test,
                                                                            protocol.test_splits)):
        if parts[split].empty:
            continue
        rows = frame[frame["split"].isin(splits)]
        for column, values in selector.items():
            if column == "exclude":
                continue
            others = select_rows(rows, {c: v for c, v in selector.items() if c != column})
            known_absent = {str(v) for v in by_design.get(split, {}).get(column, ())}
            absent = sorted({str(v) for v in values} - set(others[column].astype(str)) - known_absent)
            if absent:
                found.append(f"{split}: {column} {absent} (of {sorted(str(v) for v in values)})")
    if not found:
        return []
    text = (f"protocol {protocol.name} names values that select no row of their split, so it would run without "
            f"them: {'; '.join(found)}")
    if allow:
        return [text + " (data.allow_missing_values=true: report these with the results, the protocol is not the "
                "paper's)"]
    raise DataError("data.protocol", protocol.name, f"{text} in {uri}",
                    "import the missing sets or values (or correct their names in the manifest), or set "
                    "data.allow_missing_values=true to run on the rest (the absent values are then printed and kept "
                    "in the run's notes: footnote them)")


def _filtering_splits(protocol: Protocol, column: str) -> list[str]:
    """The manifest splits whose rows every selector of ``protocol`` that can take them filters by a list of
    ``column`` values (so an unlisted value is dropped). A split no selector takes is dropped whatever its values;
    a selector without a list for the column (none, or only ``exclude``) keeps unlisted values."""
    takers = {"train": [protocol.train], "dev": [protocol.dev], "test": []}
    for split in protocol.test_splits:
        takers.setdefault(split, []).append(protocol.test)
    return [split for split, selectors in takers.items()
            if selectors and all(column in selector for selector in selectors)]


def _closest(value: str, known: set[str]) -> str:
    same_case = [k for k in known if k.lower() == value.lower()]
    near = same_case or difflib.get_close_matches(value, sorted(known), n=2, cutoff=0.5)
    return f" (did you mean {near}?)" if near else f" (known: {sorted(known)[:12]})"


def shared_images(parts: dict[str, pd.DataFrame], uri: str, protocol: str, allow: bool) -> list[str]:
    """The same file in two of the protocol's splits (every file column)."""
    files = {name: _files(frame) for name, frame in parts.items()}
    found = [f"{len(common)} image files in both {a} and {b}, e.g. {common[:EXAMPLES].tolist()}"
             for a, b in PAIRS if len(common := files[a].intersection(files[b]))]
    return _leak(found, uri, protocol, allow, "allow_overlap", "give each image one split")


def shared_content(parts: dict[str, pd.DataFrame], facts: dict[str, ImageFacts], uri: str, protocol: str,
                   allow: bool) -> list[str]:
    """The same image bytes under different paths in two of the protocol's splits (a copied file); within one
    split a note. Only files the preflight read have a hash (all of them unless data.verify_sample is set)."""
    digest = {rel: f.digest for rel, f in facts.items() if f.digest}
    hashed = {name: pd.DataFrame({"path": frame["path"], "digest": frame["path"].map(digest)}).dropna()
              for name, frame in parts.items()}
    found = []
    for a, b in PAIRS:
        pairs = hashed[a].merge(hashed[b], on="digest", suffixes=("_a", "_b"))
        pairs = pairs[pairs["path_a"] != pairs["path_b"]]  # the same path is shared_images' finding
        if len(pairs):
            examples = list(zip(pairs["path_a"], pairs["path_b"]))[:2]
            found.append(f"{pairs['digest'].nunique()} images have the same content in {a} and {b} under "
                         f"different paths, e.g. {examples}")
    notes = _leak(found, uri, protocol, allow, "allow_overlap", "remove the copies so each image has one split")
    for name, frame in hashed.items():
        copies = frame[frame["digest"].duplicated(keep=False)]
        if len(copies):
            notes.append(f"{len(copies)} {name} images of protocol {protocol} are byte-identical copies of another "
                         f"{name} image, e.g. {copies['path'].head(2).tolist()} (weighted twice)")
    return notes


def shared_subjects(parts: dict[str, pd.DataFrame], uri: str, protocol: str, allow: bool) -> list[str]:
    """The same (non-empty) subject in two of the protocol's splits: identity leakage."""
    subjects = {name: pd.Index(frame.loc[frame["subject"] != "", "subject"].unique()) for name, frame in parts.items()}
    found = []
    for a, b in PAIRS:
        common = subjects[a].intersection(subjects[b])
        if len(common):
            rows = {s: int(parts[s]["subject"].isin(common).sum()) for s in (a, b)}
            first = {s: parts[s].loc[parts[s]["subject"] == common[0], "path"].iloc[0] for s in (a, b)}
            found.append(f"{len(common)} subjects in both {a} and {b} ({rows[a]} {a} rows, {rows[b]} {b} rows), "
                         f"e.g. {common[:EXAMPLES].tolist()} ({common[0]!r}: {first[a]} in {a}, {first[b]} in {b})"
                         f"{_numbering_hint(parts[a], parts[b], common)}")
    notes = _leak(found, uri, protocol, allow, "allow_subject_overlap", "make the splits subject-disjoint")
    unknown = sum(int((frame["subject"] == "").sum()) for frame in parts.values())
    if unknown:
        notes.append(f"{unknown} rows of protocol {protocol} have no subject: their identity leakage is not checked")
    return notes


def _numbering_hint(a: pd.DataFrame, b: pd.DataFrame, common: pd.Index) -> str:
    """When shared IDs never meet in one subset, they are likely per-dataset numbers, not one person."""
    pairs = [set(zip(f.loc[f["subject"].isin(common), "subject"], f.loc[f["subject"].isin(common), "subset"]))
             for f in (a, b)]
    if pairs[0] & pairs[1]:
        return ""
    return (" - always under different subsets: if each dataset numbers its own subjects, prefix the IDs with the "
            "subset (subject is a global identity)")


def _files(frame: pd.DataFrame) -> pd.Index:
    cells = pd.concat([frame[c].astype(str) for c in file_columns(frame)])
    return pd.Index(cells[cells != ""].unique())


def _leak(found: list[str], uri: str, protocol: str, allow: bool, flag: str, fix: str) -> list[str]:
    if not found:
        return []
    text = f"protocol {protocol} leaks between its splits: {'; '.join(found)}"
    if allow:
        return [f"{text} (data.{flag}=true)"]
    raise DataError("data.manifest", uri, text,
                    f"{fix}, or set data.{flag}=true if protocol {protocol} shares them between splits on purpose")


def membership_columns(frame: pd.DataFrame, benchmark: Benchmark, uri: str) -> None:
    """Every ``split@<name>`` column names a protocol of the benchmark, and every declared ``split_column`` exists."""
    found = []
    for column in (c for c in frame.columns if c.startswith(SPLIT_PREFIX)):
        name = column[len(SPLIT_PREFIX):]
        if name in benchmark.groups:
            found.append(f"{column!r} names the group {name}, which has no membership of its own (give each member "
                         f"its column: {[SPLIT_PREFIX + m for m in benchmark.groups[name]]})")
        elif name not in benchmark.protocols:
            found.append(f"{column!r} names no protocol of {benchmark.name}{_closest(name, set(benchmark.protocols))}")
    for protocol in benchmark.protocols.values():
        if protocol.split_column and protocol.split_column not in frame.columns:
            found.append(f"protocol {protocol.name} takes its membership from column {protocol.split_column!r}, "
                         "which the manifest lacks")
    if found:
        raise DataError("data.manifest", uri, "per-protocol split columns do not match the benchmark's protocols: "
                        + "; ".join(found), "name each column split@<protocol> after a protocol of "
                        f"{benchmark.name} (or set data.benchmark to the manifest's benchmark), and add the columns "
                        "the protocol definitions name")


def video_consistency(frame: pd.DataFrame, uri: str) -> None:
    """The frames of one video agree on label, attack type, subject and subset."""
    if VIDEO not in frame.columns:
        return
    rows = frame[frame[VIDEO] != ""]
    facts = [c for c in ("label", "attack_type", "subject", "subset") if c in rows.columns]
    differ = rows.groupby(VIDEO)[facts].nunique() > 1
    found = []
    for column in facts:
        ids = differ.index[differ[column]]
        if len(ids):
            example = rows.loc[rows[VIDEO] == ids[0], ["path", column]].drop_duplicates(column).head(2)
            found.append(f"{len(ids)} videos have frames with different {column}, e.g. {ids[:EXAMPLES].tolist()} "
                         f"({ids[0]!r}: {list(zip(example['path'], example[column]))})")
    if found:
        raise DataError("data.manifest", uri, "; ".join(found),
                        "give every frame of a video its video's label, attack type, subject and subset; ids reused "
                        "by two source datasets need a prefix (e.g. SiW/001)")


def shared_videos(parts: dict[str, pd.DataFrame], uri: str, protocol: str, allow: bool) -> list[str]:
    """Frames of one video in two of the protocol's splits: the same recording on both sides."""
    if any(VIDEO not in frame.columns for frame in parts.values()):
        return []
    videos = {name: pd.Index(frame.loc[frame[VIDEO] != "", VIDEO].unique()) for name, frame in parts.items()}
    found = [f"{len(common)} videos in both {a} and {b}, e.g. {common[:EXAMPLES].tolist()}"
             for a, b in PAIRS if len(common := videos[a].intersection(videos[b]))]
    return _leak(found, uri, protocol, allow, "allow_overlap", "give each video one split")


def score_level_data(parts: dict[str, pd.DataFrame], level: str, uri: str, protocol: str,
                     said: tuple[str, str]) -> list[str]:
    """Scoring per video needs video ids on the rows it scores (dev, test); still images among them score alone.
    ``said``: the (key, value) that asked for the level (``eval.score_level``, or the protocol's definition)."""
    if level != "video":
        return []
    fix = ("import the videos with their ids (python -m pad_core import ... carries a 'video' column) or score per "
           "frame (eval.score_level=frame)")
    scored = pd.concat([parts["dev"], parts["test"]])
    if VIDEO not in scored.columns:
        raise DataError(*said, f"protocol {protocol} is scored per video, but the manifest {uri} has no "
                        f"{VIDEO!r} column", fix)
    stills = int((scored[VIDEO] == "").sum())
    if stills == len(scored):
        raise DataError(*said, f"protocol {protocol} is scored per video, but none of its {len(scored)} "
                        f"dev/test rows of {uri} has a video id", fix)
    return [f"{stills} dev/test rows of protocol {protocol} have no video id: each scores as a video of one frame"
            ] if stills else []
