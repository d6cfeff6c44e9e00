"""A built wheel ships the net templates and py.typed, and an install of it finds them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, **kw)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout}\n{r.stderr}"
    return r


def test_wheel_ships_templates(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.insert(4, "--no-build-isolation")  # no network needed
    run(cmd, cwd=tmp_path)
    wheels = list(dist.glob("petri_exec-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as z:
        names = set(z.namelist())
    for f in ("petri_exec/__init__.py", "petri_exec/nets/executor.toml",
              "petri_exec/nets/minimal.toml", "petri_exec/py.typed",
              "petri_exec/views/web/assets/live.js", "petri_exec/views/web/assets/live.css"):
        assert f in names, f"{f} missing from {wheels[0].name}: {sorted(names)}"
    # contract section 2: the run.json JSON Schema ships with the package
    assert any(n.startswith("petri_exec/") and n.endswith("schema.json") for n in names), names

    target = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheels[0])], cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PETRI_EXEC_TEMPLATE_PATH"}
    env["PYTHONPATH"] = str(target)
    code = ("import petri_exec as pe; t = pe.load_template('executor'); "
            "print(pe.__file__); print(t.source); print(t.run.end); "
            "print(pe.load_template('minimal').slice.end); "
            "from petri_exec.views.web import asset; print(len(asset('live.js')) > 1000)")
    out = run([sys.executable, "-c", code], cwd=tmp_path, env=env).stdout.splitlines()
    pkg = (target / "petri_exec").resolve()
    assert Path(out[0]).resolve() == pkg / "__init__.py"
    assert Path(out[1]).resolve() == pkg / "nets" / "executor.toml"
    assert out[2:] == ["promotion_prepared", "done", "True"]
