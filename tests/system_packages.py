"""System programs a test needs (Slurm, Chromium): installed from Debian's packages when missing, as
root with apt-get (what .ci/run also does up front, outside the tests' time)."""

from __future__ import annotations

import os
import shutil
import subprocess


def ensure_installed(tools: tuple[str, ...], packages: tuple[str, ...]) -> None:
    if all(shutil.which(tool) for tool in tools):
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"{', '.join(tools)} not installed and this is not root: apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, capture_output=True)
