"""The Spark profile engine: the same daily profiles as ``local.profile_source`` from a lake
path of prediction-log Parquet, in a real ``SparkSession`` (``local[2]`` by default, any
cluster with ``master``).

Spark reads the files, projects the columns the local engine selects (the UTC day of ``ts``,
the reserved fields, the feature columns of ``local.lake_features``) and groups by
``(model, version, day)``; each group goes through ``core.profile_group`` in the executors
with ``applyInPandas``. The computation per group is the local engine's own code, so the two
engines give equal tables (counts, histograms, sketch buckets and ``fsum`` sums exactly). A
group must fit in one executor's memory (one model-version's day).

On a cluster (``master`` a cluster URL): the driver lists the lake and reads its Parquet
schemas, and the executors read the same paths, so the lake must be at one path for all of
them (a shared filesystem); each executor's Python imports ``console.profiles.core``, so it
needs ``mlops-console[spark]`` installed. Only the profile rows (a few hundred per group) come
back to the driver, which writes them as the console's Parquet (``local.write_table``).

Needs the ``spark`` extra (``pip install 'mlops-console[spark]'``: pyspark and pandas) and a
Java runtime (``java`` on the PATH or ``JAVA_HOME``); each missing piece is one line.
``shutdown`` stops a session and ends its JVM (PySpark otherwise keeps it until the process exits).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from console.errors import UsageError
from console.profiles.core import FIELDS, profile_group, to_table
from console.profiles.local import (
    BASE_COLUMNS,
    check_groups,
    lake_features,
    lake_files,
    lake_groups,
    version_spec,
)

OUT_SCHEMA = "model string, version string, day date, stat string, column string, key string, count long, value double"


def missing_requirement() -> str | None:
    """Why the Spark engine cannot run here (``None``: it can)."""
    try:
        import pandas  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        return "install the spark extra: pip install 'mlops-console[spark]'"
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and shutil.which("java") is None:
        return "no Java runtime for Spark: install one (Debian: apt-get install default-jre-headless) or set JAVA_HOME"
    return None


def session(master: str = "local[2]", conf: dict[str, str] | None = None):
    """A SparkSession in UTC whose Python workers are this interpreter (``conf``: more settings,
    e.g. where a test keeps Spark's scratch files)."""
    why = missing_requirement()
    if why is not None:
        raise UsageError(why)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName("mlops-console-profile")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4"))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def shutdown(spark) -> None:
    """Stop the session and end its JVM (PySpark keeps the JVM for the life of the process
    otherwise; it exits when its standard input closes)."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if proc is not None:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except Exception:  # noqa: BLE001 - a JVM that will not go is ended
            proc.kill()
            proc.wait()


def profile_spark(source: Path, registry: Any = None, master: str = "local[2]", model: str | None = None,
                  spark=None) -> pa.Table:
    """The profiles of the lake at ``source`` computed by Spark, as a ``core.SCHEMA`` table."""
    from pyspark.sql import functions as F

    files = lake_files(source)
    feats = lake_features(files)
    spark = spark or session(master)
    specs: dict[tuple[str, str], Any] = {}
    rows: list[tuple] = []
    keys: list[set] = []
    for group in lake_groups(files):
        df = _projected(spark.read.parquet(*[str(f) for f in group]), feats)
        if model is not None:
            df = df.where(F.col("model") == model)
        pairs = [(r["model"], r["version"]) for r in df.select("model", "version").distinct().collect()]
        for p in pairs:
            if p not in specs:
                specs[p] = version_spec(registry, p[0], p[1], feats)
        got = _profiled(df, dict(specs)).collect()
        keys.append({(r["model"], r["version"], r["day"]) for r in got if r["stat"] == "rows"})
        rows += [(r["model"], r["version"], r["day"], r["stat"], r["column"], r["key"], r["count"],
                  None if r["value"] is None or (isinstance(r["value"], float) and math.isnan(r["value"]))
                  else r["value"]) for r in got]
    check_groups(keys)
    return to_table(rows)


def _projected(df, feats):
    """The columns the local engine selects (``local._lake_select``), absent ones as nulls."""
    from pyspark.sql import functions as F

    present = set(df.columns)
    cols = [F.col("model").cast("string").alias("model"), F.col("version").cast("string").alias("version"),
            F.to_date(F.col("ts")).alias("day")]
    cols += [F.col(c) if c in present else F.lit(None).alias(c) for c in BASE_COLUMNS]
    cols += [F.col(f"`{src}`") if src in present else F.lit(None).alias(src) for _, src, _ in feats]
    return df.select(*cols)


def _profiled(df, specs):
    """``core.profile_group`` per ``(model, version, day)`` in the executors."""

    def one_group(pdf):
        import pandas as pd

        m, v, d = pdf["model"].iloc[0], pdf["version"].iloc[0], pdf["day"].iloc[0]
        t = pa.Table.from_pandas(pdf.drop(columns=["model", "version", "day"]), preserve_index=False)
        rows = profile_group(m, v, d, t, specs[(m, v)])
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in FIELDS]
        frame = {name: list(c) for name, c in zip(FIELDS, cols, strict=True)}
        frame["count"] = pd.array(frame["count"], dtype="Int64")
        frame["value"] = pd.array(frame["value"], dtype="Float64")
        return pd.DataFrame(frame)

    return df.groupBy("model", "version", "day").applyInPandas(one_group, OUT_SCHEMA)
