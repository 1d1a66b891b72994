"""One local SparkSession for the Spark engine's tests (``local[1]``, few shuffle
partitions, no UI), started once per test session: starting one takes tens of seconds.

Without Java the tests are skipped on a developer's machine; under CI (``CI=true``) a
missing JDK fails them, so CI never passes without running them (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI") == "true":
            pytest.fail("Java is missing: the Spark engine's tests need a JDK (see .ci/run)")
        pytest.skip("Java is missing: the Spark engine's tests need a JDK")
    if os.environ.get("CI") != "true":
        pytest.importorskip("pyspark", reason="pyspark is in the test extra")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("erroranalysis-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "1")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
