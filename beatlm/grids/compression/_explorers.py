"""Explorer of the codec grids: audiocraft's compression columns, with BeatLM's progress and errors."""

from audiocraft.grids.compression._explorers import CompressionExplorer

from .._base_explorers import BeatLMExplorer


class CodecExplorer(BeatLMExplorer, CompressionExplorer):
    """audiocraft's `CompressionExplorer` table (bandwidth, adversarial and spectral losses, SI-SNR)."""
