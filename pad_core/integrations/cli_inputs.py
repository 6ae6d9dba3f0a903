"""What the sweep command line accepts, checked while it is parsed: a bad value is refused with
``<flag>=<value>: <problem>. Fix: ...`` (exit 2) before anything is recorded in MLflow or started in Ray.

- Numbers: one table, ``NUMBERS`` (flag -> allowed range). An int/float flag missing from it (a sweep file's own
  flag) gets ``ANY_NUMBER`` (finite, >= 0), so no numeric flag goes unchecked and 0 never silently means "default".
- Lists (``--seeds``, ``--confirm-seeds``, ``--protocols``): comma-separated, spaces stripped, no empty list or
  item, nothing named twice. Ranges (``0-2``) are refused with the list to write instead: the grid's seeds are
  then always written out in full, and ``-1`` (refused as negative) cannot be misread as a range.
- Text: an empty value is refused unless '' is the flag's documented meaning or its default (``--pretrained ''``
  and ``--imagenet-weights ''`` are random init); an empty value would otherwise fall back to a default without a word.
- Names that MLflow filter strings and Tune folder names carry (``--sweep-name``, row names): ``NAME_RULE``.
"""

from __future__ import annotations

import argparse
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pad_core.errors import ConfigError, PadError, SweepError

SEED_MAX = 2**32 - 1  # numpy's RandomState takes seeds up to 2**32 - 1
NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # no quote, space, slash or backslash; <= 100 characters
NAME_TEXT = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters"
RANGE = re.compile(r"(\d+)\s*(?:-|\.\.)\s*(\d+)")


@dataclass(frozen=True)
class Number:
    """The values a numeric flag accepts: ``low`` (excluded when ``above``) up to ``high``, always finite."""

    kind: type  # int or float
    low: float = 0
    fix: str = "give a value >= 0"
    above: bool = False  # low itself is not allowed (CPUs per worker > 0)
    high: float = math.inf

    def allowed(self) -> str:
        show = (lambda v: str(int(v))) if self.kind is int else (lambda v: f"{v:g}")
        if self.high < math.inf:
            return f"between {show(self.low)} and {show(self.high)}"
        return f"{'>' if self.above else '>='} {show(self.low)}"

    def check(self, flag: str, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            noun = "an integer" if self.kind is int else "a number"
            raise ConfigError(flag, text, f"not {noun}", self.fix) from None
        if not math.isfinite(value):
            raise ConfigError(flag, value, "not a finite number", self.fix)
        if value < self.low or (self.above and value == self.low) or value > self.high:
            sign = "negative; " if value < 0 else ""
            raise ConfigError(flag, value, f"{sign}must be {self.allowed()}", self.fix)
        return value


SEED = Number(int, 0, f"give seeds from 0 to {SEED_MAX}", high=SEED_MAX)
ANY_NUMBER = {int: Number(int, 0), float: Number(float, 0)}
NUMBERS = {  # dest -> rule, for every numeric flag of the shared command line
    "gpus_per_trial": Number(float, 0, "give the GPUs each trial holds: whole GPUs, a fraction below 1 (e.g. 0.25), "
                                       "or 0 for CPU trials"),
    "workers_per_trial": Number(int, 1, "give at least 1 worker, or omit the flag (one worker per GPU, else 1)"),
    "cpus_per_worker": Number(float, 0, "give the CPUs each Train worker holds, e.g. 1 or 0.5", above=True),
    "max_concurrent": Number(int, 1, "give at least 1, or omit the flag to run as many trials as the cluster fits"),
    "tracking_outage": Number(float, 0, "give the seconds trials may train on while MLflow is unreachable "
                                        "(0 = fail at once)"),
    "num_samples": Number(int, 1, "give at least 1 configuration, or omit the flag for the sweep's default"),
    "top_k": Number(int, 1, "confirm at least 1 configuration, or omit the flag for the sweep's default"),
    "grace_period": Number(int, 1, "early stopping needs a grace period of at least 1 report, e.g. --grace-period 2 "
                                   "(docs/BENCHMARKS.md §6)"),
    "reduction_factor": Number(int, 2, "each rung must keep at most half of the trials, e.g. --reduction-factor 4 "
                                       "(docs/BENCHMARKS.md §6)"),
    "sampler_seed": SEED,
}
# '' = random init (--pretrained, --imagenet-weights); '' = no server (refused with its reason)
EMPTY_MEANS_SOMETHING = {"pretrained", "imagenet_weights", "mlflow_uri"}


def _named(convert: Callable, name: str) -> Callable:
    convert.__name__ = name  # argparse names a type in its own messages by __name__
    return convert


def number(flag: str, rule: Number) -> Callable[[str], int | float]:
    return _named(lambda text: rule.check(flag, text), f"checked {rule.kind.__name__}")


def non_empty(flag: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if not text.strip():
            raise ConfigError(flag, text, "empty: the default would be used without a word",
                              "give a value, or omit the flag for its default")
        return text.strip()

    return _named(convert, "non-empty text")


def items(flag: str, text: str, example: str) -> list[str]:
    """The comma-separated items of ``text``, stripped; an empty list or item is refused."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise ConfigError(flag, text, "an empty list: the sweep's default would be used without a word",
                          f"give at least one value, e.g. {flag} {example}, or omit the flag for the default")
    if not all(parts):
        raise ConfigError(flag, text, "an empty item between commas", f"write {flag} {','.join(p for p in parts if p)}")
    return parts


def once(flag: str, text: str, values: list, what: str) -> tuple:
    """``values`` as a tuple, refused when one repeats: a repeated seed or protocol trains the same cells twice
    into the same MLflow runs."""
    repeated = [v for v, n in Counter(values).items() if n > 1]
    if repeated:
        unique = ",".join(map(str, dict.fromkeys(values)))
        raise SweepError(flag, text, f"{what} {repeated} named more than once: each would train the same cells "
                         "again into the same runs", f"name each once: {flag} {unique}")
    return tuple(values)


def seed_list(flag: str) -> Callable[[str], tuple[int, ...]]:
    def convert(text: str) -> tuple[int, ...]:
        seeds = []
        for item in items(flag, text, "0,1,2"):
            span = RANGE.fullmatch(item)
            if span:
                first, last = int(span[1]), int(span[2])
                listed = ",".join(map(str, range(first, last + 1))) if first <= last else "0,1,2"
                raise ConfigError(flag, text, f"{item!r} is a range; seeds are listed, not ranged",
                                  f"list every seed: {flag} {listed}")
            seeds.append(SEED.check(flag, item))
        return once(flag, text, seeds, "seeds")

    return _named(convert, "seed list")


def name_list(flag: str) -> Callable[[str], tuple[str, ...]]:
    def convert(text: str) -> tuple[str, ...]:
        return once(flag, text, items(flag, text, "P1,P2"), "protocols")

    return _named(convert, "protocol list")


def typed_flags(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give every numeric flag its rule from ``NUMBERS`` (else ``ANY_NUMBER``) and every free-text flag the
    non-empty check; the lists' own types stay. Run again after a sweep file adds its flags."""
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public list of its actions
        flag = action.option_strings[-1] if action.option_strings else action.dest
        if action.type in (int, float):
            action.type = number(flag, NUMBERS.get(action.dest, ANY_NUMBER[action.type]))
        elif (action.type is None and action.nargs is None and not action.choices and action.option_strings
              and isinstance(action, (argparse._StoreAction, argparse._AppendAction))  # noqa: SLF001
              and action.dest not in EMPTY_MEANS_SOMETHING and action.default != ""):
            action.type = non_empty(flag)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args`` with a value refused by these checks raised as its PadError (``key=value: ...
    Fix: ...``); argparse's own refusals (an unknown flag, a bad choice) print usage and exit 2 as usual."""
    parser.exit_on_error = False
    try:
        return parser.parse_args(argv)
    except argparse.ArgumentError as err:
        cause = err.__context__  # argparse raises ArgumentError while handling the type's own error
        if isinstance(cause, PadError):
            raise cause from None
        parser.error(str(err))


def check_name(flag: str, name: str) -> str:
    """A name that MLflow filter strings (``tags.`pad.sweep` = '<name>'``) and Tune folders carry unchanged."""
    if not NAME_RULE.fullmatch(name):
        bad = sorted({c for c in name if not re.fullmatch(r"[A-Za-z0-9._-]", c)})
        why = f"characters {bad} are not allowed" if bad else "empty, too long or not starting with a letter or digit"
        raise SweepError(flag, name, f"{why}: the name goes into MLflow filter strings and folder names",
                         f"use {NAME_TEXT}, e.g. {re.sub(r'[^A-Za-z0-9._-]', '-', name).strip('-.')[:100] or 'sweep1'}")
    return name
