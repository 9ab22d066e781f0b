"""The Spark engine, for real (Spark in local mode on this machine's JVM): the same answers as
the local engine to the same rows, bad rows included."""

from __future__ import annotations

import pandas as pd


def test_spark_and_the_local_engine_give_identical_answers(insight, tmp_path, customers):
    table = customers.astype({"age": "string"})
    table.loc[4, "age"] = "四十"  # a bad row in two of the three files
    table.loc[250, "age"] = "?"
    folder = tmp_path / "in"
    folder.mkdir()
    table.iloc[:200].to_parquet(folder / "a.parquet", index=False, row_group_size=80)
    table.iloc[200:260].to_parquet(folder / "b.parquet", index=False)
    table.iloc[260:].to_parquet(folder / "c.parquet", index=False)  # no bad row at all
    common = ("predict", "--data", folder, "--format", "parquet")

    local = insight(*common, "--out", tmp_path / "local", "--workers", "1")
    spark = insight(
        *common, "--out", tmp_path / "spark", "--engine", "spark", "--spark-master", "local[2]"
    )

    assert local.exit_code == 0, local.output
    assert spark.exit_code == 0, spark.output
    assert "skipped 2 bad rows" in spark.output

    def answers(engine: str) -> pd.DataFrame:
        written = pd.read_parquet(tmp_path / engine)
        return written.sort_values("customer_id").reset_index(drop=True)

    assert len(answers("spark")) == len(customers) - 2
    pd.testing.assert_frame_equal(answers("spark"), answers("local"), check_exact=True)
    bad = {
        engine: pd.read_csv(tmp_path / engine / "_bad_rows.csv") for engine in ("local", "spark")
    }
    pd.testing.assert_frame_equal(bad["spark"], bad["local"])
    assert bad["spark"][["source_file", "source_row", "reason"]].values.tolist() == [
        ["a.parquet", 4, "age: not a number"],
        ["b.parquet", 50, "age: not a number"],
    ]
