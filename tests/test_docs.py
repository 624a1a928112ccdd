"""The documentation site and the README, as a newcomer meets them.

- `mkdocs build --strict` builds the site from docs/ (every internal link resolves, the generated reference
  tables render); the site is served over HTTP and opened in a real headless Chromium: the home page, a
  tutorial and the API page, their titles, every internal link of them answering, the docstrings of
  `evolve`, `open_run` and `check_task` on the API page.
- Every tutorial runs as written: its bash blocks in bash, its Python blocks in one real Jupyter kernel,
  blocks with a `title` written to that file first, in a `scratch/` folder of a copy of the repository's
  layout (the tutorials say to work there). A block after `<!-- not run: why -->` is skipped; the comment
  says which test covers it instead.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from browser import chromium

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
FENCE = re.compile(r'(?P<skip><!-- not run:[^>]*-->\n)?```(?P<lang>\w+)(?: title="(?P<title>[^"]+)")?\n(?P<code>.*?)\n```',
                   re.S)
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "-d", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return out


def test_the_readme_is_one_page_that_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, len(lines)
    commands = [line for line in lines[:8] if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    assert commands[0].endswith("evo-fastslow evolve configs/quickstart.yaml")
    assert commands[1].endswith("pip install -e '.[test]' && pytest -q")
    for link in re.findall(r"\]\(([^)#]+)\)", "\n".join(lines)):  # every relative link names a file that exists
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link


def test_the_site_has_its_pages_and_generated_references(site):
    for page in ["index.html", "getting-started/index.html", "tutorials/01-quickstart/index.html",
                 *[f"tutorials/{t.stem}/index.html" for t in TUTORIALS],
                 *[f"guides/{g}/index.html" for g in ("run-config", "suites", "genes", "searchers", "commands",
                                                      "python-api", "plugins", "tracking", "reproducibility")],
                 *[f"concepts/{c}/index.html" for c in ("three-speeds", "selection-under-noise", "lifetime-engine",
                                                        "determinism")],
                 "design/index.html", "results/selection-benchmark/index.html", "results/benchmarks/index.html",
                 "studies/index.html", "studies/bandit-agent/index.html", "studies/inheritance/results/inheritance.svg"]:
        assert (site / page).is_file(), page
    from evo_fastslow.evolution.config import RunConfig
    from evo_fastslow.evolution.searchers.registry import SHIPPED
    from evo_fastslow.genome import SEARCH_SPACE

    config = (site / "guides/run-config/index.html").read_text()
    for name in RunConfig.model_fields:  # every field of the run config, under its name in a file
        assert f"<code>{'schema' if name == 'schema_' else name}" in config or name == "embedded_suites", name
    assert "<code>evaluation.racing.alpha</code>" in config and "<code>cluster.jobqueue.walltime</code>" in config
    genes = (site / "guides/genes/index.html").read_text()
    assert all(f"<code>{gene}</code>" in genes for gene in SEARCH_SPACE.genes)
    searchers = (site / "guides/searchers/index.html").read_text()
    assert all(f"<code>{name}</code>" in searchers for name in SHIPPED)
    assert "<code>tournament_size</code>" in searchers and "<code>n_startup_trials</code>" in searchers
    assert "<!-- generated" not in config + genes + searchers


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_the_site_reads_in_headless_chromium(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    driver = chromium(resolve_localhost=True)
    try:
        seen = {}
        for path in ("", "tutorials/02-own-task/", "guides/python-api/"):
            driver.get(base + path)
            seen[path] = {"title": driver.title, "text": driver.find_element("tag name", "article").text,
                          "links": driver.execute_script(
                              "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"),
                          "errors": [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]}
        internal = {link.split("#")[0] for page in seen.values() for link in page["links"] if link.startswith(base)}
        answers = {}
        for link in sorted(internal):  # every page these three link to answers
            with urllib.request.urlopen(link, timeout=10) as answer:
                answers[link] = answer.status
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
    assert seen[""]["title"] == "evo-fastslow" and "three speeds" in seen[""]["text"].lower()
    assert seen["tutorials/02-own-task/"]["title"].startswith("2. Your own task")
    assert "check_task(GoodArm(arms=3))" in seen["tutorials/02-own-task/"]["text"]
    api = seen["guides/python-api/"]
    assert api["title"].startswith("Python API")
    import evo_fastslow as ef

    for function in (ef.evolve, ef.open_run, ef.check_task):  # their docstrings, as the browser shows them
        first = " ".join(function.__doc__.split())[:60].replace("`", "")
        assert first in " ".join(api["text"].split()), function.__name__
    assert [page["errors"] for page in seen.values()] == [[], [], []]
    assert len(internal) >= 25 and set(answers.values()) == {200}  # the navigation reaches every page


def _blocks(tutorial: Path) -> list[dict[str, str]]:
    text = tutorial.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        code = SNIPPET.sub(lambda m: (ROOT / m.group(1)).read_text().rstrip("\n"), match.group("code"))
        blocks.append({"lang": match.group("lang"), "title": match.group("title") or "", "code": code,
                       "skip": bool(match.group("skip"))})
    return blocks


@pytest.fixture
def scratch(tmp_path):
    """The repository's layout (its example files linked in), and `scratch/` inside it, where the tutorials work."""
    for name in ("configs", "fitness", "populations", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "scratch").mkdir()
    return tmp_path / "scratch"


@pytest.mark.parametrize("tutorial", [t.name for t in TUTORIALS])
def test_a_tutorial_runs_as_written(tutorial, scratch):
    from jupyter_client.manager import start_new_kernel

    blocks = _blocks(ROOT / "docs" / "tutorials" / tutorial)
    assert any(b["lang"] in ("bash", "python") and not b["title"] for b in blocks)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "EVO_FASTSLOW_BUILD_WAIT": "900"}
    kernel, client, groups = None, None, []
    try:
        for block in blocks:
            if block["skip"] or block["lang"] not in ("bash", "python", "yaml"):
                continue
            if block["title"]:
                (scratch / block["title"]).write_text(block["code"] + "\n")
            elif block["lang"] == "bash":
                proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block["code"]], cwd=scratch, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
                groups.append(proc.pid)  # its background jobs (a scheduler, workers) share its process group
                out, _ = proc.communicate(timeout=900)
                assert proc.returncode == 0, f"{tutorial}: {block['code']}\n{out[-4000:]}"
            elif block["lang"] == "python":
                if kernel is None:
                    kernel, client = start_new_kernel(kernel_name="python3", cwd=str(scratch), env=env)
                output: list[str] = []

                def keep(message, output=output):
                    content = message["content"]
                    output.append(content.get("text", "") + "".join(content.get("traceback", [])))

                reply = client.execute_interactive(block["code"], timeout=900, output_hook=keep)
                assert reply["content"]["status"] == "ok", f"{tutorial}: {block['code']}\n{''.join(output)[-4000:]}"
    finally:
        if kernel is not None:
            client.stop_channels()
            kernel.shutdown_kernel(now=True)
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
