"""Building a layer from its sub-config without a hand-written field copy.

A :class:`ConfigLayer` states how the fields of a frozen config dataclass become a layer's constructor keywords:
field ``x`` is keyword ``x`` unless declared otherwise. ``classes`` names the option fields whose value (a name, or a
two-way switch) is resolved to a class here, in the factory, and passed under the keyword the layer takes (timm
style: the config's ``expert_act="gelu"`` becomes ``act_layer=GELU``); layers never look names up themselves.
``elsewhere`` names the fields the layer does not take, each with the reason (the builder or another module reads
it). ``prefix`` selects the fields of a config shared by several layers (``peer_keys`` -> ``keys``).

So a new layer option is one field in the config and one keyword in the layer; a field that is neither a keyword
nor declared ``elsewhere`` fails the build with a TypeError (the meta-device dry build turns it into a refusal
before any trial) and fails tests/model/test_config_layers.py.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ClassOption:
    """An option field resolved to a class: ``resolve(value)`` is passed to the layer as ``keyword``."""

    keyword: str
    resolve: Callable[[Any], Any]


@dataclass(frozen=True)
class TwoWay:
    """A boolean switch between two classes (or functions): ``on`` when the flag is true, else ``off``. A switch is
    a two-way choice, not a registry keyed by True/False."""

    on: Any
    off: Any

    def __call__(self, flag: bool) -> Any:
        return self.on if flag else self.off


@dataclass(frozen=True)
class ConfigLayer:
    """How ``layer`` is built from a sub-config (see the module docstring)."""

    layer: Callable[..., nn.Module]
    classes: Mapping[str, ClassOption] = field(default_factory=dict)
    elsewhere: Mapping[str, str] = field(default_factory=dict)  # field -> who reads it instead of the layer
    prefix: str = ""

    def fields(self, cfg_cls: type) -> list[str]:
        """The fields of ``cfg_cls`` this layer is built from (``prefix``-selected, ``elsewhere`` left out)."""
        names = [f.name for f in dataclasses.fields(cfg_cls) if f.name.startswith(self.prefix)]
        return [n for n in names if n not in self.elsewhere]

    def keyword(self, name: str) -> str:
        option = self.classes.get(name)
        return option.keyword if option else name.removeprefix(self.prefix)

    def kwargs(self, cfg: Any) -> dict[str, Any]:
        """Constructor keywords from ``cfg``: every field by name, option fields resolved to their classes."""
        out = {}
        for name in self.fields(type(cfg)):
            value = getattr(cfg, name)
            option = self.classes.get(name)
            out[self.keyword(name)] = option.resolve(value) if option else value
        return out

    def build(self, cfg: Any, *args: Any, **computed: Any) -> nn.Module:
        """``layer(*args, **kwargs(cfg), **computed)``; ``computed`` holds what the builder derives (a width)."""
        return self.layer(*args, **self.kwargs(cfg), **computed)

    def unknown_keywords(self, cfg_cls: type) -> list[str]:
        """Keywords this declaration would pass that the layer does not take (empty when it is consistent)."""
        params = inspect.signature(self.layer).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return []
        return [k for k in map(self.keyword, self.fields(cfg_cls)) if k not in params]
