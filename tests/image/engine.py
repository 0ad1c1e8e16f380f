"""A real container engine for the image tests: docker where a daemon answers, else podman (installed
from Debian when missing), and the Dockerfile's base image, or a local stand-in where no registry
can be reached. Every step says what it does; the README's deploy section shows the same commands.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "python:3.11.7-slim-bookworm"  # the Dockerfile's ARG PYTHON_IMAGE
STANDIN_LABEL = "axon.base-standin"
STANDIN_DIFFERENCES = (
    "it is Debian bookworm's own python3 (3.11.2, in /usr/bin, linked from /usr/local/bin/python and pip) "
    "instead of Python 3.11.7 built in /usr/local, without pip's EXTERNALLY-MANAGED marker (the official "
    "image has none), and larger (about 300 MB, not 130 MB)")
# runc here needs explicit limits (measured: it refuses the engine's defaults)
ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
CA_BUNDLE = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))


def say(message: str) -> None:
    """Said in the test run's own output (pytest's terminal, not its capture: see tests/image/conftest.py)."""
    write(f"[image] {message}")


write = print  # replaced by the terminal reporter under pytest


def run(*command: str, check: bool = True, timeout: float = 1800, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, timeout=timeout, text=True, capture_output=True, **kwargs)


class Engine:
    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        result = run(self.name, *args, check=False, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    @property
    def is_podman(self) -> bool:
        return self.name == "podman"

    def image_exists(self, image: str) -> bool:
        return self("image", "inspect", image, check=False).returncode == 0

    def build(self, tag: str, *args: str) -> float:
        """Build the Dockerfile as written; returns the seconds it took."""
        started = time.monotonic()
        options = ["--format", "docker", *ULIMITS] if self.is_podman else []  # OCI drops HEALTHCHECK
        secrets = ["--secret", f"id=ca.crt,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
        self("build", "--pull=never", *options, *secrets, "-t", tag, *args, str(REPO_ROOT), timeout=3600)
        return time.monotonic() - started

    def run_detached(self, image: str, *args: str) -> str:
        return self("run", "-d", *(ULIMITS if self.is_podman else []), *args, image).stdout.strip()

    def run_once(self, image: str, *command: str) -> subprocess.CompletedProcess:
        return self("run", "--rm", *(ULIMITS if self.is_podman else []), image, *command, check=False)

    def healthcheck(self, container: str) -> str:
        """Run the image's HEALTHCHECK now and return the state (podman has no systemd timer here)."""
        if self.is_podman:
            self("healthcheck", "run", container, check=False)
        return self("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()


def find_engine() -> Engine:
    if shutil.which("docker") and run("docker", "info", check=False, timeout=30).returncode == 0:
        return Engine("docker")
    if not shutil.which("podman"):
        if os.geteuid() != 0:
            raise RuntimeError("no container engine: install podman (apt-get install podman runc) or start docker")
        say("no docker daemon and no podman: installing podman, runc and debootstrap from Debian")
        run("apt-get", "update", timeout=600)
        run("apt-get", "install", "-y", "podman", "runc", "debootstrap", timeout=1200)  # with its recommends
    return Engine("podman")


def ensure_base(engine: Engine) -> str:
    """The official base if it is here or can be pulled; else a stand-in of the same name, made from
    Debian packages. Returns a sentence saying which, and how the stand-in differs."""
    if engine.image_exists(BASE_IMAGE):
        labels = engine("image", "inspect", "--format", "{{json .Config.Labels}}", BASE_IMAGE).stdout
        if STANDIN_LABEL in labels:
            return f"base {BASE_IMAGE}: the local stand-in made earlier ({STANDIN_DIFFERENCES})"
        return f"base {BASE_IMAGE}: the official image, already here"
    if engine("pull", BASE_IMAGE, check=False, timeout=300).returncode == 0:
        return f"base {BASE_IMAGE}: the official image, pulled"
    say(f"{BASE_IMAGE} cannot be pulled (no registry reachable): making a stand-in with debootstrap")
    if not shutil.which("debootstrap"):
        run("apt-get", "install", "-y", "debootstrap", timeout=600)
    with tempfile.TemporaryDirectory(prefix="axon-base-") as root:
        run("debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,ca-certificates",
            "bookworm", root, "http://deb.debian.org/debian", timeout=1800)
        (Path(root) / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
        for name, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
            (Path(root) / "usr/local/bin" / name).symlink_to(target)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        changes = ["ENV LANG=C.UTF-8", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                   f"LABEL {STANDIN_LABEL}=debootstrap-bookworm", 'CMD ["python3"]']
        subprocess.run([engine.name, "import", *[f"--change={c}" for c in changes], "-",
                        f"docker.io/library/{BASE_IMAGE}"], stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()
    return f"base {BASE_IMAGE}: a local stand-in made with debootstrap ({STANDIN_DIFFERENCES})"
