"""Who can reach the scheduler: TLS with certificates for remote schedulers (real `dask scheduler` and
`dask worker` processes on loopback), plain TCP only when the config says so."""

import pytest
import yaml
from distributed import Client
from distributed.security import Security

from dask_processes import dask_processes, temporary_certificates
from runs import evolve, snapshot





def test_a_tls_scheduler_runs_the_evolution_and_refuses_clients_without_certificates(tmp_path):
    assert evolve(tmp_path / "in-process", "cluster.workers=0").returncode == 0
    certificates = temporary_certificates(tmp_path)
    with dask_processes(tmp_path, [{}, {}], tls=certificates) as address:
        assert address.startswith("tls://")
        with pytest.raises(Exception):  # no certificates at all
            Client(address, timeout=5)
        with pytest.raises(Exception):  # encrypted, but no client certificate: mutual TLS refuses it
            Client(address, timeout=5, security=Security(tls_ca_file=certificates["ca_file"], require_encryption=True))
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
