"""SQL: soft Q-learning for continuous actions with an amortised SVGD sampler (Haarnoja et al. 2017)."""

from sb3_softopt.sql.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SQLPolicy, SVGDActor
from sb3_softopt.sql.sql import DEFAULT_TOTAL_TIMESTEPS, SQL
from sb3_softopt.sql.svgd import SVGD_SPACES

__all__ = [
    "DEFAULT_TOTAL_TIMESTEPS",
    "SQL",
    "SVGD_SPACES",
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "SQLPolicy",
    "SVGDActor",
]
