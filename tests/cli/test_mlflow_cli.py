"""`mlops mlflow` as a person at a shell uses it, against real MLflow, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from tests.cli.test_cli import fails, ok, run
from tests.mlflowstack import move_alias, seed


def test_import_dry_run_then_import_then_again(db_url: str, mlflow_local: str) -> None:
    seed(mlflow_local, "Iris Classifier", 3, aliases={"production": 2})
    seed(mlflow_local, "churn", 1)

    dry = run(db_url, "mlflow", "import", "--tracking-uri", mlflow_local, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "+ iris-classifier ← 'Iris Classifier', 3 versions (v1-v3)" in dry.stdout
    assert "production v2 (@production), stage monitor" in dry.stdout
    assert "nothing was written" in dry.stderr
    assert ok(db_url, "status", "--json") in ("[]\n", "")

    done = run(db_url, "mlflow", "import", "--tracking-uri", mlflow_local)
    assert done.returncode == 0, done.stderr
    assert "imported 2 models" in done.stderr
    status = {m["name"]: m for m in json.loads(ok(db_url, "status", "--json"))}
    assert status["iris-classifier"]["production_version"] == 2
    assert status["churn"]["stage"] == "test"
    history = ok(db_url, "history", "iris-classifier")
    assert "v2 from MLflow's 'Iris Classifier' version 2 by alice" in history
    assert "created in monitor, owner tester (from MLflow)" in history

    again = run(db_url, "mlflow", "import", "--tracking-uri", mlflow_local)
    assert again.returncode == 0 and "imported 0 models" in again.stderr
    assert "= iris-classifier: up to date" in again.stdout

    move_alias(mlflow_local, "Iris Classifier", "production", 3)
    synced = run(db_url, "mlflow", "sync")
    assert synced.returncode == 0, synced.stderr
    assert "@production moved in MLflow: v2 → v3" in synced.stdout
    assert "production here is v2" in synced.stdout
    (link,) = [
        s for s in json.loads(ok(db_url, "mlflow", "status", "--json")) if s["model"] == "churn"
    ]
    assert link["registered_model"] == "churn" and link["alias"] == "production"
    assert link["pending"] == [] and link["versions"] == 1
    shown = ok(db_url, "mlflow", "status")
    assert "iris-classifier" in shown and "@production→3" in shown


def test_mistakes_are_one_line_and_name_no_secret(db_url: str, mlflow_local: str) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex
    unreachable = fails(
        db_url,
        "mlflow",
        "import",
        "--tracking-uri",
        "http://127.0.0.1:9",
        code=4,
        MLFLOW_TRACKING_TOKEN=secret,
    )
    assert "127.0.0.1:9" in unreachable and secret not in unreachable
    with_password = fails(
        db_url, "mlflow", "import", "--tracking-uri", f"http://me:{secret}@127.0.0.1:9", code=2
    )
    assert secret not in with_password and "MLFLOW_TRACKING_USERNAME" in with_password
    assert "no model named 'nope'" in fails(db_url, "mlflow", "sync", "nope", code=2)
    assert "alias" in fails(
        db_url,
        "mlflow",
        "import",
        "--tracking-uri",
        mlflow_local,
        "--production-alias",
        "v1",
        code=2,
    )
    seed(mlflow_local, "模型", 1)
    refused = fails(db_url, "mlflow", "import", "--tracking-uri", mlflow_local, code=2)
    assert "'模型' has no name here" in refused and "--model" in refused


def test_without_the_extra_a_local_registry_says_what_to_install(
    db_url: str, mlflow_local: str
) -> None:
    """`mlflow` missing (as without mlops-tui[mlflow]): one line naming the extra."""
    script = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from mlops_tui.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "mlflow", "import", "--tracking-uri", mlflow_local],
        capture_output=True,
        text=True,
        env={**_env(), "MLOPS_DB": db_url},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'mlops-tui[mlflow]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_status_and_the_rest_of_mlops_never_import_mlflow(db_url: str) -> None:
    script = (
        "import sys\n"
        "from mlops_tui.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "assert 'mlflow' not in sys.modules, 'imported mlflow'\n"
        "assert 'mlops_tui.services.mlflow_bridge' not in sys.modules\n"
    )
    for args in (["status"], ["model", "list"]):
        result = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            env={**_env(), "MLOPS_DB": db_url},
            timeout=60,
        )
        assert result.returncode == 0, result.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
