"""Importers of BIG-MoE's multimodal sources (benchmark ``mmdg``: RGB, depth and IR aligned per sample).

- ``mmdg``: the MMDG benchmark's own lists over all four sets (:mod:`.mmdg_lists`), the way BIG-MoE's tables
  use them: subset C/P/S/W, split from the list (val -> dev), label from the list, subject/attack from each
  set's naming (:mod:`.mmdg_names`).
- ``casia-surf``: CASIA-SURF in its own challenge layout and lists (:mod:`.mmdg_surf`), subset S.
- ``cefa``, ``wmca``, ``padisi-face``: their own download layouts could not be confirmed from published material,
  so they refuse and point at the ``mmdg`` importer (or at writing MMDG-style lists).

None of these sets ships face boxes, so ``--faces shipped`` is refused (rows carry no ``face_box``). The images
are face regions already where that is published (CASIA-SURF releases background-removed face regions, MMDG's
tree is named CASIA-SURF-CROP; WMCA's R_CDIT frames come from its face-cropped ``preprocessed`` data); for
CeFA's ``profile`` frames it is not verified. ``--faces none`` (the default) keeps them; ``--faces haar`` crops.
"""

from __future__ import annotations

from pathlib import Path

from pad_core.data.importers.base import Importer, ImportProblems, register
from pad_core.data.importers.mmdg_lists import scan_benchmark
from pad_core.data.importers.mmdg_surf import LAYOUT as SURF_LAYOUT
from pad_core.data.importers.mmdg_surf import SOURCE as SURF_SOURCE
from pad_core.data.importers.mmdg_surf import scan_surf
from pad_core.errors import DataError

BENCHMARK_LAYOUT = (
    "ROOT/MMDG-Benchmark/{C,P,S,W}-{train,val,test}.txt (val -> dev), lines '<rgb> <depth> <ir> <label>' "
    "(label 1 = live, 0 = attack; paths relative to ROOT; CRLF endings accepted; in a tab-separated line an "
    "empty depth/IR field = absent modality), and the trees they name: CeFA/CeFA-Race/<AF|CA|EA>/<R>-<ID>/"
    "<race>_<ID>_<device>_<session>_<PAI>/{profile,depth,ir}/<frame>.jpg and CeFA/CeFA-Mask/<3D-Mask|"
    "Silicone-Mask>/<ID>/<video>/{profile,depth,ir}/ (C), CASIA-SURF-CROP/<real|fake>_part/<real|fake>_"
    "<train|val|test>_part/CLKJ_<id>/<video>.rssdk/{color,depth,ir}/ (S), WMCA-Image/R_CDIT/<client>_<session>_"
    "<presenter>_<type>_<pai>/{color,depth,ir}/ (W). Subject: C race+ID (masks: mask ID), S the CLKJ_* folder, W "
    "the client; P none (hashed names). The published P lists name MMDG's PADISI-Face .npz files, whose content "
    "is not published: they are refused (extract RGB/depth/IR images and list them as above). The MMDG lists "
    "sample 3 frames per video: the other frames of a full download are unknown files (--skip-unknown). Known "
    "defect of the published lists: C-val.txt line 1201 repeats a C-test.txt line (AF-300 0026.jpg); the import "
    "reports it, delete that line. Not verified: the trees themselves (only the lists are published).")
BENCHMARK_SOURCE = ("MMDG benchmark lists (Lin et al., 'Suppress and Rebalance', CVPR 2024), github.com/lxbuaa/"
                    "mmdg_plus_plus MMDG-Benchmark/; set naming: github.com/liuajian/CASIA-FAS-Dataset (CeFA), "
                    "CASIA-SURF and WMCA papers")

NO_BOXES = "none of the MMDG sets ships face boxes (their images are face regions already where that is published)"
register(Importer("mmdg", "mmdg", BENCHMARK_LAYOUT, BENCHMARK_SOURCE, scan_benchmark, faces_note=NO_BOXES))
register(Importer("casia-surf", "mmdg", SURF_LAYOUT, SURF_SOURCE, scan_surf, faces_note=NO_BOXES))

UNCONFIRMED = {
    "cefa": ("CASIA-SURF CeFA's own download (ChaLearn CVPR 2020 release: <AF|CA|EA>/<R>-<ID>/<video>/"
             "{profile,depth,ir}/ with 4@<n>_{train,dev_ref,test_res}.txt lists) is known only from third-party "
             "code; its list label convention and the dev/test list syntax could not be confirmed"),
    "wmca": ("WMCA ships HDF5 files (preprocessed-face-station_CDIT/...); their internal layout (frame groups, "
             "channel order of colour/depth/infrared/thermal) is not published in a form that could be checked"),
    "padisi-face": ("PADISI-Face's own download layout is not published openly (access by licence), and the MMDG "
                    "lists name .npz files of unpublished content"),
}


def refuse(name: str, why: str):
    def scan(root: Path, options, problems: ImportProblems) -> list[dict]:
        raise DataError("import", name, f"this set's own layout is not supported: {why}",
                        "import it through the MMDG benchmark lists (python -m pad_core import mmdg ROOT, with "
                        "ROOT/MMDG-Benchmark/*.txt and the image trees they name), or write lists in that form "
                        "('<rgb> <depth> <ir> <label>') for your copy")
    return scan


for _name, _why in UNCONFIRMED.items():
    register(Importer(_name, "mmdg", f"not supported (unconfirmed layout): {_why}. Use the 'mmdg' importer.",
                      "no confirmed public description of the download layout", refuse(_name, _why)))
