"""Rules of the test suite itself, checked by running it: a CI run cannot pass
without the browser tests, and tests write nothing into the checkout."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(*args, **env):
    # On the embedded defaults whatever this run uses: in CI's PostgreSQL pass, a second
    # pytest would otherwise make (and so drop) this run's own test database.
    environ = {k: v for k, v in os.environ.items()
               if k not in ("CI", "PYTEST_ADDOPTS", "DATABASE_URL", "REDIS_URL")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          env={**environ, **env}, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout


def test_browser_tests_fail_under_ci_when_chromium_is_missing_and_skip_elsewhere():
    test = "tests/test_browser.py::test_drag_and_drop_upload"
    code, out = run_pytest(test, CHROMIUM="/nonexistent/chromium", CI="true")
    assert code == 1 and "is not installed, and under CI the browser tests must run" in out, out[-2000:]
    code, out = run_pytest(test, CHROMIUM="/nonexistent/chromium")
    assert code == 0 and "1 skipped" in out, out[-2000:]


def test_commands_run_by_the_tests_write_their_var_files_outside_the_checkout(settings):
    # The evaluate command keeps its classifier graph under VAR_DIR/cache/evaluate by default.
    assert not Path(settings.VAR_DIR).resolve().is_relative_to(ROOT)
