import json

import pytest

from sb3_softopt import demo


def test_demo_runs_end_to_end(tmp_out):
    summary = demo.main(["--out", str(tmp_out), "--steps", "1200"])
    written = json.loads((tmp_out / "demo.json").read_text())
    assert written == json.loads(json.dumps(summary))
    rows = {row["alpha"]: row for row in written["lottery"]}
    # The lecture's optimism: exact inference buys at alpha = 1, variational inference does not.
    assert rows[1.0]["p_buy_exact"] > 0.99
    assert rows[1.0]["p_buy_variational"] < 0.01
    # Past the closed-form threshold (~2957.7) the exact solver stops preferring the ticket.
    assert rows[5000.0]["p_buy_exact"] < 0.5 < rows[2500.0]["p_buy_exact"]
    result = written["soft_dqn_cartpole"]
    assert result["steps"] == 1200 and result["final_ent_coef"] > 0
    assert result["greedy_return_mean"] >= 8  # a CartPole episode lasts at least 8 steps


def test_demo_rejects_bad_steps(tmp_out):
    with pytest.raises(SystemExit):
        demo.main(["--out", str(tmp_out), "--steps", "0"])
