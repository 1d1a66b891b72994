"""Engines that count a run's evidence where its data lives, instead of in pandas.

:mod:`.sql` compiles rule tags and the census of dataset and rule tags to SQL (DuckDB or
Spark SQL); :mod:`.duckdb` counts a run stored in the project file out-of-core. Each
produces the same :class:`~erroranalysis.counts.TagCounts` as the in-memory path.
Nothing heavy is imported here: each engine imports its library where it is used.
"""
