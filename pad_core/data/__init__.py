"""Manifests, protocols as data, synthetic benchmarks, datasets and samplers."""

from typing import TYPE_CHECKING

from pad_core.data.manifest import REQUIRED_COLUMNS, Manifest, read_manifest
from pad_core.data.prepare import ProtocolData, prepare, resolve_manifest_uri
from pad_core.data.protocols import Benchmark, Protocol, load_benchmark
from pad_core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from pad_core.data.dataset import ManifestImages, StepBatchSampler

# need torch: imported on first use (pad_core/lazy_exports.py), so importers and the manifest checks start in a
# fraction of the time (torch takes ~4 s to import here)
TORCH_NAMES = ("ManifestImages", "StepBatchSampler")

__all__ = [
    "REQUIRED_COLUMNS", "Benchmark", "Manifest", "ManifestImages", "Protocol", "ProtocolData", "StepBatchSampler",
    "load_benchmark", "prepare", "read_manifest", "resolve_manifest_uri",
]
__getattr__ = lazy_exports(__name__, {"dataset": TORCH_NAMES})
