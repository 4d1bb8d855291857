"""A project-local PostgreSQL + PostGIS cluster for the zero-configuration default.

Created on first use in ``<data_dir>/pg``, reused afterwards, and stopped by whoever
started it. PostgreSQL refuses to run as root, so when we are root every server command
runs as the ``postgres`` system user (and the data directory is owned by it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DB_NAME = "referral_api"
DB_USER = "referral_api"
PG_SYSTEM_USER = "postgres"


class EmbeddedClusterError(RuntimeError):
    """The embedded cluster cannot be created or started; the message says what to do."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _pg_bindirs() -> list[Path]:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p.parent.name))
    return list(reversed(found))


def _major(name: str) -> int:
    try:
        return int(name)
    except ValueError:
        return 0


def _find_bindir() -> Path | None:
    for bindir in _pg_bindirs():
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _postgis_installed(major: int) -> bool:
    return Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists()


def _postgis_package(major: int | None) -> str:
    return f"postgresql-{major or 15}-postgis-3"


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"referral-api: installing {package} with apt-get ...", file=sys.stderr)
    install = ["apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, env=env, check=False, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
        result = subprocess.run(install, env=env, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise EmbeddedClusterError(
                f"apt-get install {package} failed:\n{result.stderr[-2000:]}"
            )


def ensure_postgis_installed() -> Path:
    """Return the PostgreSQL bin directory, installing PostGIS with apt when we may."""
    bindir = _find_bindir()
    major = _major(bindir.parent.name) if bindir else None
    if bindir is not None and major and _postgis_installed(major):
        return bindir
    package = _postgis_package(major)
    if _is_root() and shutil.which("apt-get"):
        _apt_install(package)
        bindir = _find_bindir()
        major = _major(bindir.parent.name) if bindir else None
        if bindir is not None and major and _postgis_installed(major):
            return bindir
    what = "PostgreSQL with PostGIS" if bindir is None else "PostGIS"
    raise EmbeddedClusterError(
        f"{what} is not installed. Install the Debian package {package} "
        f"(sudo apt-get install -y {package}) or set REFERRAL_API_DATABASE_URL "
        "to an existing PostgreSQL + PostGIS database."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedCluster:
    data_dir: Path
    # Extra server settings, e.g. fsync=off for a throwaway test cluster.
    server_options: dict[str, str] = field(default_factory=dict)
    started_by_us: bool = False

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.pgdata = self.data_dir / "pg"
        self.password_file = self.data_dir / "password"
        self.port_file = self.data_dir / "port"
        self.log_file = self.data_dir / "postgresql.log"

    # -- running commands as the right user -------------------------------------------
    def _run(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if _is_root():
            cmd = ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise EmbeddedClusterError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not _is_root():
            return
        try:
            pg = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError as exc:  # the postgresql package creates this user
            raise EmbeddedClusterError(
                f"running as root needs the '{PG_SYSTEM_USER}' system user "
                "(created by the postgresql package)"
            ) from exc
        os.chown(self.data_dir, pg.pw_uid, pg.pw_gid)
        os.chmod(self.data_dir, 0o700)
        probe = subprocess.run(
            ["runuser", "-u", PG_SYSTEM_USER, "--", "test", "-w", str(self.data_dir)],
            check=False,
        )
        if probe.returncode != 0:
            raise EmbeddedClusterError(
                f"the '{PG_SYSTEM_USER}' user cannot reach {self.data_dir} (a parent directory "
                "is not traversable); set REFERRAL_API_DATA_DIR to a directory it can use, "
                "e.g. /var/tmp/referral-api"
            )

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    def _write_private(self, path: Path, text: str) -> None:
        path.write_text(text)
        os.chmod(path, 0o600)
        if _is_root():
            pg = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(path, pg.pw_uid, pg.pw_gid)

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists() and self.password_file.exists()

    def init(self, bindir: Path) -> None:
        self._prepare_dir()
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-made cluster from an interrupted first run
        password = secrets.token_urlsafe(24)
        self._write_private(self.password_file, password)
        self._write_private(self.port_file, str(_free_port()))
        self._run(
            [
                str(bindir / "initdb"),
                "-D", str(self.pgdata),
                "-U", DB_USER,
                "--auth=scram-sha-256",
                f"--pwfile={self.password_file}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )

    def running(self, bindir: Path) -> bool:
        status = self._run([str(bindir / "pg_ctl"), "-D", str(self.pgdata), "status"], check=False)
        return status.returncode == 0

    def start(self) -> str:
        """Create (first time) and start the cluster; return its SQLAlchemy URL."""
        bindir = ensure_postgis_installed()
        if not self.initialized():
            self.init(bindir)
        else:
            self._prepare_dir()
        if not self.running(bindir):
            port = self.port
            if not _port_free(port):
                port = _free_port()
                self._write_private(self.port_file, str(port))
            options = {
                "listen_addresses": "127.0.0.1",
                "port": str(port),
                "unix_socket_directories": str(self.pgdata),
                "max_connections": "200",
                "shared_buffers": "256MB",
                **self.server_options,
            }
            opts = " ".join(f"-c {k}={v}" for k, v in options.items())
            self._run(
                [
                    str(bindir / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_file),
                    "-o", opts, "-w", "-t", "60", "start",
                ]
            )
            self.started_by_us = True
        self._ensure_database(bindir)
        return self.url

    def _ensure_database(self, bindir: Path) -> None:
        env_prefix = ["env", f"PGPASSWORD={self.password}"]
        psql = [
            *env_prefix, str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", DB_USER, "-d", "postgres", "-tAc",
        ]
        for _ in range(50):
            exists = self._run([*psql, f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'"],
                               check=False)
            if exists.returncode == 0:
                break
            time.sleep(0.1)
        if exists.stdout.strip() != "1":
            self._run([*psql, f"CREATE DATABASE {DB_NAME}"])

    def stop(self) -> None:
        bindir = _find_bindir()
        if bindir is None or not self.started_by_us:
            return
        self._run([str(bindir / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                  check=False)
        self.started_by_us = False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def embedded_database(data_dir: Path, **server_options: str) -> Iterator[str]:
    """Start the embedded cluster for the duration of the block; yield its URL."""
    cluster = EmbeddedCluster(data_dir, server_options=server_options)
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()
