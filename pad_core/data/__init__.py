"""Manifests, protocols as data, synthetic benchmarks, datasets and samplers."""

from pad_core.data.manifest import REQUIRED_COLUMNS, Manifest, read_manifest
from pad_core.data.prepare import ProtocolData, prepare, resolve_manifest_uri
from pad_core.data.protocols import Benchmark, Protocol, load_benchmark

__all__ = [
    "REQUIRED_COLUMNS", "Benchmark", "Manifest", "ManifestImages", "Protocol", "ProtocolData", "StepBatchSampler",
    "load_benchmark", "prepare", "read_manifest", "resolve_manifest_uri",
]
TORCH_NAMES = ("ManifestImages", "StepBatchSampler")  # need torch: imported on first use, so importers and the
# manifest checks start in a fraction of the time (torch takes ~4 s to import here)


def __getattr__(name: str):
    if name in TORCH_NAMES:
        from pad_core.data import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'pad_core.data' has no attribute {name!r}")
