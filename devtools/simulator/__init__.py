"""routelab's built-in LLM simulator: an OpenAI- and Anthropic-compatible HTTP server of simulated models.

Pure Python and ASGI (served by uvicorn), no Django: see `server` for the endpoints and headers.
"""

from devtools.simulator.profiles import DEFAULT_PROFILES, ModelProfile, estimate_difficulty, profiles_by_name
from devtools.simulator.server import (
    DIFFICULTY_HEADER,
    FAULT_HEADER,
    RunningSimulator,
    SimulatorApp,
    run_in_thread,
)

__all__ = [
    "DEFAULT_PROFILES",
    "DIFFICULTY_HEADER",
    "FAULT_HEADER",
    "ModelProfile",
    "RunningSimulator",
    "SimulatorApp",
    "estimate_difficulty",
    "profiles_by_name",
    "run_in_thread",
]
