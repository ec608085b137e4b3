"""Importing pictrace quiets native thread pools (see pictrace.threads), unless the user chose."""

import json
import os
import subprocess
import sys

_PROBE = (
    "import pictrace, cv2, os; from threadpoolctl import threadpool_info; "
    "print(json.dumps({'blas': sorted({i['num_threads'] for i in threadpool_info() "
    "if i['user_api'] == 'blas'}), 'cv_wait': os.environ.get("
    "'OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER')}))"
)


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "OPENCV_"))}
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + _PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_blas_runs_on_one_thread_and_opencv_workers_sleep():
    found = _probe()
    assert found == {"blas": [1], "cv_wait": "0"}


def test_the_users_own_settings_win():
    found = _probe(OPENBLAS_NUM_THREADS="2", OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER="5")
    assert found["cv_wait"] == "5"
    assert min(2, os.cpu_count() or 1) in found["blas"]
