"""Hadoop's ``file:`` file system for the engines' Iceberg IO on a local warehouse.

Without Hadoop's native library (the engines' jars do not ship it), Hadoop's local file system
runs ``chmod`` in a child process for every file and directory it creates: a streaming job on a
``file:`` warehouse forked about 23 of them a second, each also searching ``PATH``. The class
compiled here (``headwater/stack/java``) sets the mode through ``java.nio`` instead and keeps no
``.crc`` side files. Engines select it with Hadoop's ``fs.file.impl``.
"""

from __future__ import annotations

from pathlib import Path

from headwater.settings import Settings
from headwater.stack import install
from headwater.stack.errors import StackError

#: Java sources of the file system class
SOURCES = Path(__file__).with_name("java")
#: the class engines name in ``fs.file.impl``
LOCAL_FS_CLASS = "headwater.hadoop.PosixLocalFileSystem"


def local_fs_jar(settings: Settings, engine_jars: list[Path], java_home: Path) -> Path:
    """The file system's jar, compiled against the Hadoop client API among an engine's jars."""
    api = [j for j in engine_jars if j.name.startswith("hadoop-client-api-")]
    if not api:
        raise StackError("no hadoop-client-api jar among the engine's jars "
                         f"({', '.join(sorted(j.name for j in engine_jars)) or 'none'}): "
                         "check the engine's distribution and its [maven] group in versions.toml")
    return install.compile_jar(settings, "headwater-hadoop-fs", SOURCES, api, java_home)
