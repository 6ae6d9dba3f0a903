"""What the MMDG sources' own file naming says about a sample: subject, attack, label, split.

Each set names its videos in its own published scheme; the RGB frame path (as the MMDG lists write it) is read
with that scheme. A path that does not follow it is reported, never guessed; a label or split the name implies
that contradicts the list is reported too.

- C (CASIA-SURF CeFA): ``.../CeFA-Race/<AF|CA|EA>/<race>-<ID>[-<IdCard>]/<Race>_<ID>_<AcqDevice>_<Session>_<PAI>/
  profile/<frame>``; PAI 1 real, 2 cloth (print), 3 photo (print), 4 screen (replay). Masks:
  ``.../CeFA-Mask/<3D-Mask|Silicone-Mask>/<ID>/<kind>_<ID>_<...>/profile/<frame>`` (all attacks). Published in
  github.com/liuajian/CASIA-FAS-Dataset, CASIA_CeFA/readme.md ("Format"). Subject: race + ID (``C/AF-000``);
  mask ID (``C/3D-Mask-001``; whether a mask ID is one of the race IDs is not published, so it stays separate).
- S (CASIA-SURF, as MMDG's ``CASIA-SURF-CROP`` tree): ``.../<real|fake>_part/<real|fake>_<train|val|test>_part/
  CLKJ_<id>/<real|NN_regions_shape>.rssdk/color/<frame>``; every attack is a printed photo with regions cut out
  (CASIA-SURF paper, CVPR 2019). Subject: the ``CLKJ_*`` folder (``S/CLKJ_AS0005``).
- W (WMCA, as MMDG's ``WMCA-Image/R_CDIT`` tree): ``.../R_CDIT/<client>_<session>_<presenter>_<type>_<pai>/color/
  <frame>``; type 0 is bona fide. The attack family of a (type, pai) code comes from the per-attack WMCA test
  lists MMDG's authors publish (lxbuaa/mmdg_plus_plus FlexModal_Protocols/WMCA_test_<family>.txt); every code
  of the MMDG W lists is among them. Subject: the client (``W/001``).
- P (PADISI-Face): the MMDG lists name hashed ``.npz`` files; the name carries nothing (no subject, no attack).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEVICES = {"C": "cefa-realsense", "P": "padisi-rig", "S": "surf-sr300", "W": "wmca-sr300"}
CEFA_RACES = {"1": "AF", "2": "CA", "3": "EA"}
CEFA_PAI = {"1": ("real", "none"), "2": ("cloth", "print"), "3": ("photo", "print"), "4": ("screen", "replay")}
CEFA_MASKS = {"3D-Mask": "3d_mask", "Silicone-Mask": "silicone_mask"}

# WMCA (type, pai) codes by attack family, from the per-family WMCA test lists of lxbuaa/mmdg_plus_plus.
WMCA_FAMILIES = {
    "fakehead": "2_01 2_02 2_03 2_04 2_05 2_06 2_07",
    "flexiblemask": "2_18 " + " ".join(f"2_{n}" for n in range(75, 100)),
    "glasses": "1_01 1_04 1_05 1_06 1_07 1_15 1_16",
    "papermask": "2_08 2_09 2_10 2_11",
    "print": "3_01 3_02 3_03 3_04 3_06 3_07 3_08 3_09 3_11 3_12 3_13 3_14",
    "replay": "3_05 3_10 3_15 " + " ".join(f"4_{n:02d}" for n in range(1, 19)),
    "rigidmask": "1_02 1_13 1_14 2_12 2_13 2_14 2_15 2_16 2_17",
}
WMCA_CODES = {code: family for family, codes in WMCA_FAMILIES.items() for code in codes.split()}

CEFA_RACE = re.compile(r"(?:^|/)CeFA-Race/(AF|CA|EA)/(?:AF|CA|EA)-\d+(?:-\d+)?/(([1-3])_(\d+)_\d_\d_(\d))/profile/"
                       r"[^/]+$")
CEFA_MASK = re.compile(r"(?:^|/)CeFA-Mask/(3D-Mask|Silicone-Mask)/(\d+)/([12]_\d+_\d_\d_\d_\d_\d)/profile/[^/]+$")
SURF_CROP = re.compile(r"(?:^|/)(real|fake)_part/(real|fake)_(train|val|test)_part/(CLKJ_[A-Z]*\d+)/"
                       r"((?:real|\d\d_[a-z]+_[a-z]+))\.rssdk/color/[^/]+$")
WMCA_IMAGE = re.compile(r"(?:^|/)R_CDIT/((\d{3})_\d{2}_\d{3}_(\d)_(\d{2}))/color/[^/]+$")
SPLITS = {"train": "train", "val": "dev", "test": "test"}
EXPECTED = {
    "C": "CeFA-Race/<AF|CA|EA>/<race>-<ID>/<race>_<ID>_<device>_<session>_<PAI>/profile/<frame> or "
         "CeFA-Mask/<3D-Mask|Silicone-Mask>/<ID>/<video>/profile/<frame>",
    "S": "<real|fake>_part/<real|fake>_<train|val|test>_part/CLKJ_<id>/<video>.rssdk/color/<frame>",
    "W": "R_CDIT/<client>_<session>_<presenter>_<type>_<pai>/color/<frame>",
}


@dataclass(frozen=True)
class Facts:
    """What a set's naming says about one RGB frame; ``None`` label/split: the name does not say."""

    subject: str  # global identity, prefixed by the set ("" = not carried by the name)
    attack_type: str  # "none" for bona fide; print / replay / mask / a WMCA family / "unknown"
    pai: str  # the set's own presentation code (CeFA "screen", SURF "04_en_b", WMCA "3_05")
    video: str  # the video folder the frame was sampled from ("" = not known)
    label: int | None = None
    split: str | None = None


def read_name(subset: str, rgb: str, video: str) -> Facts | str:
    """Facts of an RGB path of set ``subset``, or the reason the path does not follow the set's naming."""
    if subset == "P":
        return Facts("", "", "", "")
    reader = {"C": _cefa, "S": _surf, "W": _wmca}[subset]
    facts = reader(rgb, video)
    return facts if facts is not None else f"not named as {subset} names its frames (expected ...{EXPECTED[subset]})"


def _cefa(rgb: str, video: str) -> Facts | str | None:
    if m := CEFA_RACE.search(rgb):
        folder_race, _, race, ident, pai = m.groups()
        if CEFA_RACES[race] != folder_race:
            return None
        word, attack = CEFA_PAI.get(pai, (None, None))
        if word is None:
            return None
        return Facts(f"C/{folder_race}-{ident}", attack, word, video, label=int(pai == "1"))
    if m := CEFA_MASK.search(rgb):
        kind, ident, _ = m.groups()
        return Facts(f"C/{kind}-{ident}", "mask", CEFA_MASKS[kind], video, label=0)
    return None


def _surf(rgb: str, video: str) -> Facts | None:
    m = SURF_CROP.search(rgb)
    if m is None or m.group(1) != m.group(2) or (m.group(1) == "real") != (m.group(5) == "real"):
        return None
    real = m.group(1) == "real"
    return Facts(f"S/{m.group(4)}", "none" if real else "print", m.group(5), video, label=int(real),
                 split=SPLITS[m.group(3)])


def _wmca(rgb: str, video: str) -> Facts | str | None:
    m = WMCA_IMAGE.search(rgb)
    if m is None:
        return None
    _, client, kind, pai = m.groups()
    code = f"{kind}_{pai}"
    if kind == "0":
        return Facts(f"W/{client}", "none", code, video, label=1)
    if code not in WMCA_CODES:
        return (f"WMCA attack code {code} is not among the attack families MMDG publishes "
                f"({sorted(WMCA_FAMILIES)}); its attack type is unknown")
    return Facts(f"W/{client}", WMCA_CODES[code], code, video, label=0)


def surf_challenge_name(rgb: str) -> Facts | None:
    """CASIA-SURF as the CVPR 2019 challenge ships it: ``Training/<real|fake>_part/CLKJ_<id>/<video>.rssdk/color/
    <frame>`` (subject, label) or ``Val|Testing/<NNNN>/<NNNNNN>-color.jpg`` (anonymised: no subject, no label)."""
    m = re.fullmatch(r"Training/(real|fake)_part/(CLKJ_[A-Z]*\d+)/((?:real|\d\d_[a-z]+_[a-z]+))\.rssdk/color/[^/]+",
                     rgb)
    if m:
        real = m.group(1) == "real"
        if real != (m.group(3) == "real"):
            return None
        return Facts(f"S/{m.group(2)}", "none" if real else "print", m.group(3), rgb.rsplit("/", 2)[0],
                     label=int(real), split="train")
    m = re.fullmatch(r"(Val|Testing)/(\d+)/(\d+)-color\.[a-z]+", rgb)
    if m:
        return Facts("", "", "", "", split={"Val": "dev", "Testing": "test"}[m.group(1)])
    return None
