"""Importing pictrace quiets native thread pools (see pictrace.threads), unless the user chose."""

import json
import os
import subprocess
import sys

import pytest

_PROBE = (
    "import pictrace, cv2, os; from threadpoolctl import threadpool_info; "
    "import faiss, threading; later = []; "
    "t = threading.Thread(target=lambda: later.append(faiss.omp_get_max_threads())); "
    "t.start(); t.join(); "
    "print(json.dumps({'blas': sorted({i['num_threads'] for i in threadpool_info() "
    "if i['user_api'] == 'blas'}), 'cv_wait': os.environ.get("
    "'OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER'), 'omp_later_thread': later[0]}))"
)


def _probe(**env: str) -> dict:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "OPENCV_", "OMP_"))
    }
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + _PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


needs_two_cores = pytest.mark.skipif(
    (os.cpu_count() or 1) < 2, reason="OpenMP's default is one thread on one core"
)


@needs_two_cores
def test_blas_runs_on_one_thread_and_opencv_workers_sleep():
    found = _probe()
    assert found == {"blas": [1], "cv_wait": "0", "omp_later_thread": 1}


def test_the_users_own_settings_win():
    found = _probe(OPENBLAS_NUM_THREADS="2", OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER="5")
    assert found["cv_wait"] == "5"
    assert min(2, os.cpu_count() or 1) in found["blas"]


_POOL_PROBE = (
    "import faiss, json; "  # loaded before pictrace: OMP_NUM_THREADS is read already
    "from pictrace import Index; "
    "index = Index.open({folder!r}); "
    "print(json.dumps(index.pool.submit(faiss.omp_get_max_threads).result())); "
    "index.close()"
)


def _pool_omp_threads(folder: str, **env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    out = subprocess.run(
        [sys.executable, "-c", _POOL_PROBE.format(folder=folder)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return int(json.loads(out.stdout.strip().splitlines()[-1]))


@needs_two_cores
def test_pictraces_own_threads_run_faiss_on_one_thread_even_if_faiss_came_first(tmp_path):
    assert _pool_omp_threads(str(tmp_path / "i")) == 1
    # the user's own OMP_NUM_THREADS wins there too
    assert _pool_omp_threads(str(tmp_path / "j"), OMP_NUM_THREADS="2") == 2


def test_all_cores_means_the_cores_this_process_may_use():
    import os

    from pictrace.threads import usable_cores

    assert usable_cores() == len(os.sched_getaffinity(0)) >= 1
