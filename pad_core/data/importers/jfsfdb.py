"""JFSFDB (Yu et al., "Benchmarking Joint Face Spoofing and Forgery Detection with Visual and Physiological Cues",
TDSC 2024): nine public video sets, each downloaded separately, read in its own published layout.

JFSFDB publishes no files of its own: its repository (github.com/ZitongYu/Benchmarking) holds partial code whose
protocol lists are private paths. What the code shows (train_FAS_Deepfake_ViT_*.py) and padsweep follows: training
on SiW + 3DMAD + HKBU-MARs V2 (spoofing) and FF++ (forgery), intra-dataset tests on their test parts, cross-dataset
tests on MSU-MFSD, 3DMask, ROSE-Youtu, DFDC and Celeb-DF; a video's score is the mean of its frames' scores. Here each
member set keeps its own official split (its lists or folders); protocols: ``protocol_defs/jfsfdb.json``.
"""

from __future__ import annotations

from pathlib import Path

from pad_core.data.importers import jfsfdb_sets as sets
from pad_core.data.importers.base import OUTPUT_DIR, Importer, ImportOptions, ImportProblems, own_outputs, register
from pad_core.data.video import FRAMES_DIR, FrameSampling, VideoJob, frame_rows

READERS = {"SiW": sets.siw, "MSU-MFSD": sets.msu_mfsd, "ROSE-Youtu": sets.rose_youtu, "FF++": sets.ff_plus_plus,
           "Celeb-DF": sets.celeb_df, "DFDC": sets.dfdc}
CROSS_TEST_SETS = ("MSU-MFSD", "3DMask", "ROSE-Youtu", "DFDC", "Celeb-DF")  # never trained on in JFSFDB's protocols
UNCONFIRMED = ("3DMAD", "HKBU-MARs", "3DMask")  # published layouts we could not confirm: refused

LAYOUT = """ROOT/<member set>/<that set's own published layout>; member-set folders are named as below. Videos are
decoded with PyAV and k frames sampled per video (--frames-per-video, uniform intervals, seeded offset); one row per
frame, column `video` = the video's path under ROOT, `subject` = <set>:<id from the file naming>.
  SiW/{Train,Test}/{live,spoof}/<subject>/<subject>-<sensor>-<type>-<medium>-<session>.mov|mp4 (+ .face boxes);
      TypeID 1 live, 2 print, 3 replay; split = Train/Test (SiW's release; as in bob.db.siw).
  MSU-MFSD/scene01/{real,attack}/{real|attack}_client<NNN>_{android|laptop}_{SD|HD}[_<attack>]_scene01.mp4|mov
      (+ .face), attack words printed_photo / ipad_video / iphone_video; split by MSU-MFSD/train_sub_list.txt and
      test_sub_list.txt (client numbers).
  ROSE-Youtu/{train,test}/<subject>/<code>_<...>.mp4, code G genuine, Ps/Pq print, Vl/Vm replay, Mc/Mf/Mu/Ml
      paper masks (attack_type paper_mask); split = the train/test folder. Seen in third-party readers only (the
      data manager of JFSFDB co-author R. Cai, github.com/RizhaoCai/FAS_DataManager; field order from
      github.com/petrmiculek/Face_Presentation_Attack_Detection); JFSFDB's code tests on all ROSE-Youtu videos,
      padsweep's cross protocols on its test folder.
  FF++/original_sequences/youtube/<c>/videos/<id>.mp4 and
      FF++/manipulated_sequences/{Deepfakes,Face2Face,FaceSwap,NeuralTextures,FaceShifter}/<c>/videos/<t>_<s>.mp4
      (FaceForensics download script), <c> one of raw/c23/c40, one compression per import (several are refused:
      each clip would count once per compression); split by FF++/splits/{train,val,test}.json, copied from the
      FaceForensics repository's dataset/splits (pairs of ids; val = dev). actors/DeepFakeDetection and masks are
      not read.
  Celeb-DF/{Celeb-real,YouTube-real,Celeb-synthesis}/*.mp4 + Celeb-DF/List_of_testing_videos.txt ("<1|0> <path>",
      1 = real): listed videos are test, the rest train. Its split shares celebrities across train and test, so
      `subject` is left empty and the celebrity goes to column `identity`.
  DFDC/<part>/metadata.json + that part's videos (DFDC's training parts: {"<file>": {"label": "REAL|FAKE",
      "split": ..., "original": ...}}); subject = the source video (a fake and its original share it); split = the
      metadata's (train/val/test). The training parts all say train: the import warns that the cross-domain
      protocols then test no DFDC video (the layout of DFDC's labelled test set was not confirmed).
Not imported (refused when present): 3DMAD, HKBU-MARs, 3DMask. Their download layouts could not be confirmed in
public material (3DMAD is distributed as HDF5 recordings, not videos; HKBU-MARs V2: only "real"/"attack" in paths;
"3DMask", likely CASIA-SURF 3DMask: only "Real"/"Fake/<n>" in paths), and padsweep does not guess; move those
folders out of ROOT to import the other sets."""


def scan(root: Path, options: ImportOptions, problems: ImportProblems) -> list[dict]:
    """Every member-set folder -> video jobs (layout problems first); the frames are decoded only when the layout
    is clean, so a wrong tree is refused in seconds, before any video is read."""
    jobs: list[VideoJob] = []
    own = own_outputs(options.out)
    for entry in sorted(root.iterdir()):
        if (entry.name.startswith(".") or entry.name == OUTPUT_DIR or entry.name.startswith("padsweep_manifest")
                or entry.resolve() in own):
            continue
        if entry.is_dir() and entry.name in READERS:
            jobs += READERS[entry.name](entry, root, problems)
        elif entry.is_dir() and entry.name in UNCONFIRMED:
            problems.other.append(f"{entry}: padsweep could not confirm the published layout of {entry.name}, so it "
                                  "does not import it (move it out of ROOT to import the other member sets)")
        else:
            problems.unknown_files.append(f"{entry}{'/' if entry.is_dir() else ''}: not a JFSFDB member-set folder "
                                          f"(expected {sorted(READERS)})")
    if problems.kinds(options.skip_unknown):
        return []
    report_splits(jobs)
    sampling = FrameSampling(options.frames_per_video, options.seed, options.crop_size)
    out_root = options.out.expanduser().resolve().parent / OUTPUT_DIR / FRAMES_DIR
    return frame_rows(jobs, out_root, sampling, problems.other)


def report_splits(jobs: list[VideoJob]) -> None:
    """Videos per member set and split, and a warning for a cross-test set without test videos (DFDC's training
    parts say "train" in their metadata: the cross-domain protocols would then test none of its videos)."""
    counts: dict[str, dict[str, int]] = {}
    for job in jobs:
        per_set = counts.setdefault(job.row["subset"], {})
        per_set[job.row["split"]] = per_set.get(job.row["split"], 0) + 1
    for name, splits in sorted(counts.items()):
        print(f"[padsweep] import: {name}: videos by split {dict(sorted(splits.items()))}", flush=True)
        if name in CROSS_TEST_SETS and not splits.get("test"):
            print(f"[padsweep] import: warning: {name} has no test videos, so joint.cross and separate.*.cross test "
                  f"none of them (joint.cross.{name} is refused for an empty test split)", flush=True)


IMPORTER = register(Importer(
    name="jfsfdb", benchmark="jfsfdb", layout=LAYOUT, scan=scan,
    faces_note="SiW and MSU-MFSD ship a .face file of face boxes next to each video, but padsweep does not read them "
               "yet (their per-frame format is known only from third-party readers, not from the releases' own "
               "description); ROSE-Youtu, FF++, Celeb-DF and DFDC ship none",
    source="JFSFDB: Yu et al., TDSC 2024 (arXiv 2208.05401; github.com/ZitongYu/Benchmarking); member layouts: SiW "
           "(cvlab.cse.msu.edu, bob.db.siw), ROSE-Youtu (third-party readers, see layout), MSU-MFSD (Wen et al. "
           "TIFS 2015 release), FaceForensics++ (its download script and dataset/splits), Celeb-DF v2 (its release "
           "README), DFDC (Kaggle training parts)"))
