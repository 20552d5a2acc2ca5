"""The codec solver: audiocraft's `CompressionSolver`, building its model with BeatLM's builder.

audiocraft's solver builds its model through `audiocraft.models.builders.get_compression_model`, a closed
literal of Encodec; BeatLM's builder adds the spectral codec (`compression_model: spectral`) and hands every
other value back to audiocraft's. Everything else (losses, balancer, adversaries, EMA) is audiocraft's.
"""

from audiocraft.solvers import builders as ac_solver_builders
from audiocraft.solvers.compression import CompressionSolver as AudiocraftCompressionSolver

from ..models.builders import get_compression_model


class CompressionSolver(AudiocraftCompressionSolver):
    """audiocraft's codec solver; the model comes from `beatlm.models.builders.get_compression_model`."""

    def build_model(self):
        self.model = get_compression_model(self.cfg, device=self.device)
        self.optimizer = ac_solver_builders.get_optimizer(self.model.parameters(), self.cfg.optim)
        self.register_stateful('model', 'optimizer')
        self.register_best_state('model')
        self.register_ema('model')
