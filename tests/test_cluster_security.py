"""Who can reach the scheduler: TLS with certificates for remote schedulers (real `dask scheduler` and
`dask worker` processes on loopback), plain TCP only when the config says so."""

import subprocess
import sys

import yaml

from dask_processes import dask_processes, temporary_certificates
from runs import evolve, snapshot





def _connects(address: str, security: str) -> bool:
    """Whether a client with this security reaches the scheduler. In a process of its own: a refused
    client left to the garbage collector can deadlock the next one's start in the same process
    (distributed's Client.__del__ closing a loop runner while another starts)."""
    code = ("from distributed import Client; from distributed.security import Security\n"
            f"Client({address!r}, timeout=5, security={security}).close()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120).returncode == 0


def test_a_tls_scheduler_runs_the_evolution_and_refuses_clients_without_certificates(tmp_path):
    assert evolve(tmp_path / "in-process", "cluster.workers=0").returncode == 0
    certificates = temporary_certificates(tmp_path)
    with dask_processes(tmp_path, [{}, {}], tls=certificates) as address:
        assert address.startswith("tls://")
        assert not _connects(address, "None")  # no certificates at all
        # encrypted, but no client certificate: mutual TLS refuses it
        assert not _connects(address, f"Security(tls_ca_file={certificates['ca_file']!r}, require_encryption=True)")
        assert _connects(address, "Security(" + ", ".join(  # with them: let in
            f"{name}={certificates[key]!r}" for name, key in (("tls_ca_file", "ca_file"), ("tls_client_cert", "cert"),
                                                              ("tls_client_key", "key"))) + ", require_encryption=True)")
        refused = evolve(tmp_path / "refused", f"cluster.address={address}")
        assert refused.returncode == 2 and "cluster.security: {ca_file, cert, key}" in refused.stderr
        security = "{" + ", ".join(f"{k}: {v}" for k, v in certificates.items()) + "}"
        run = evolve(tmp_path / "tls", f"cluster.address={address}", f"cluster.security={security}")
    assert run.returncode == 0, run.stderr
    assert snapshot(tmp_path / "tls") == snapshot(tmp_path / "in-process")
    config = yaml.safe_load((tmp_path / "tls" / "config.yaml").read_text())
    assert config["cluster"]["security"]["ca_file"] == certificates["ca_file"]


def test_plain_tcp_to_another_machine_must_be_said_in_words(tmp_path):
    """Refused when the config is read: nothing connects (the host does not exist either)."""
    proc = evolve(tmp_path / "run", "cluster.address=tcp://scheduler.invalid:8786")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cluster.security: TLS files to reach tcp://scheduler.invalid:8786, or `none`" in proc.stderr
    assert not (tmp_path / "run").exists()
