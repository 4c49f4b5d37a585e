"""Library code leaves global state it does not own alone: the matplotlib backend (#17 bug 5)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _is_backend_switch(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "use"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("matplotlib", "mpl")
    )


def test_no_library_function_switches_the_backend():
    """``matplotlib.use(...)`` appears only inside CLI entry points (functions named ``main``)."""
    found = []
    for path in [*(ROOT / "sb3_softopt").rglob("*.py"), *(ROOT / "envs").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        in_main = {
            id(node)
            for func in ast.walk(tree)
            if isinstance(func, ast.FunctionDef) and func.name == "main"
            for node in ast.walk(func)
        }
        found += [f"{path.relative_to(ROOT)}:{n.lineno}" for n in ast.walk(tree) if _is_backend_switch(n) and id(n) not in in_main]
    assert found == []


def test_plotting_keeps_the_users_backend(tmp_path):
    script = f"""
import matplotlib
matplotlib.use("svg")  # the user's choice, e.g. a notebook backend
from sb3_softopt.common.callbacks import plot_entropy_tracking
from sb3_softopt.experiments import lottery, reaching
from sb3_softopt.experiments import equivalence
plot_entropy_tracking([dict(timestep=1, entropy=0.5, target_entropy=0.4, ent_coef=0.1)], r"{tmp_path / 'e.png'}")
lottery.run(r"{tmp_path / 'lottery'}", quick=True)
reaching.run(r"{tmp_path / 'reaching'}", quick=True)
equivalence._plot({{"SoftDQN": {{"steps": [0, 1], "kl": [1.0, 0.5], "kl_uniform": [1.0, 0.5]}}}}, r"{tmp_path / 'kl.png'}", 0.5, 0.9, 0.05)
print(matplotlib.get_backend())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "svg"
    assert (tmp_path / "e.png").stat().st_size > 0 and (tmp_path / "kl.png").stat().st_size > 0
