"""Manifests, protocols as data, synthetic benchmarks, datasets and samplers."""

from pad_core.data.dataset import ManifestImages, StepBatchSampler
from pad_core.data.manifest import REQUIRED_COLUMNS, Manifest, read_manifest
from pad_core.data.prepare import ProtocolData, prepare, resolve_manifest_uri
from pad_core.data.protocols import Benchmark, Protocol, load_benchmark

__all__ = [
    "REQUIRED_COLUMNS", "Benchmark", "Manifest", "ManifestImages", "Protocol", "ProtocolData", "StepBatchSampler",
    "load_benchmark", "prepare", "read_manifest", "resolve_manifest_uri",
]
