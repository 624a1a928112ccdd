"""What a genome builds: input encoding, recurrent core with meta-RL inputs, policy and value heads."""

from evo_fastslow.agents.agent import Agent, build_agent, parameter_count
from evo_fastslow.agents.cores import CORES

__all__ = ["Agent", "build_agent", "parameter_count", "CORES"]
