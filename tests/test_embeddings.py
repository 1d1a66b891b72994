"""Embeddings at import: the three sources read back exactly, every bad input refused with
the problem named (and nothing stored), float32 storage per run, TF-IDF for text."""

from __future__ import annotations

import hashlib
import io
import json
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from store_support import add_run

from erroranalysis.embeddings import Embeddings, from_blob, tfidf_embeddings, to_blob
from erroranalysis.errors import StoreError
from erroranalysis.importing import ImportValidationError, read_dataset
from erroranalysis.store import open_project

VECTORS = np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -3.5], [1e-3, 7.0, 0.125]])
IDS = ["a1", "a2", "a3"]


def base(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": IDS[:n],
            "label": ["x", "y", "x"][:n],
            "prediction": ["x", "x", "x"][:n],
            "snr_db": [1.0, 2.0, 3.0][:n],
        }
    )


def parquet_file(tmp_path, frame: pd.DataFrame, schema: pa.Schema | None = None):
    path = tmp_path / f"data{len(list(tmp_path.iterdir()))}.parquet"
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)
    return path


def arrow_parquet(tmp_path, embeddings: list):
    """A Parquet file written by pyarrow itself, which keeps NaN (pandas would write null)."""
    table = pa.Table.from_pandas(base(), preserve_index=False)
    table = table.append_column("embedding", pa.array(embeddings, pa.list_(pa.float64())))
    path = tmp_path / f"data{len(list(tmp_path.iterdir()))}.parquet"
    pq.write_table(table, path)
    return path


def jsonl_file(tmp_path, records: list[dict]):
    path = tmp_path / f"data{len(list(tmp_path.iterdir()))}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def csv_file(tmp_path, frame: pd.DataFrame):
    path = tmp_path / f"data{len(list(tmp_path.iterdir()))}.csv"
    frame.to_csv(path, index=False)
    return path


def npy_file(tmp_path, array, name: str = "emb.npy"):
    folder = tmp_path / f"npy{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / name
    np.save(path, array, allow_pickle=True)
    return path


def numbered(frame: pd.DataFrame, vectors) -> pd.DataFrame:
    columns = {f"emb_{j}": np.asarray(vectors)[:, j] for j in range(np.asarray(vectors).shape[1])}
    return frame.assign(**columns)


def listed(frame: pd.DataFrame, values: list) -> pd.DataFrame:
    return frame.assign(embedding=values)


# ---------------------------------------------------------------------- the three sources
def source_files(tmp_path):
    return {
        "parquet list column": (parquet_file(tmp_path, listed(base(), VECTORS.tolist())), None),
        "jsonl array": (
            jsonl_file(
                tmp_path,
                [
                    r | {"embedding": v}
                    for r, v in zip(base().to_dict("records"), VECTORS.tolist(), strict=True)
                ],
            ),
            None,
        ),
        "csv JSON text": (
            csv_file(tmp_path, listed(base(), [json.dumps(v) for v in VECTORS.tolist()])),
            None,
        ),
        "emb_ columns (csv)": (csv_file(tmp_path, numbered(base(), VECTORS)), None),
        "npy beside a csv": (csv_file(tmp_path, base()), npy_file(tmp_path, VECTORS)),
    }


@pytest.mark.parametrize(
    ("case", "source"),
    [
        ("parquet list column", "column 'embedding'"),
        ("jsonl array", "column 'embedding'"),
        ("csv JSON text", "column 'embedding'"),
        ("emb_ columns (csv)", "columns emb_0 … emb_2"),
        ("npy beside a csv", "emb.npy"),
    ],
)
def test_every_source_reads_the_same_vectors_and_keeps_no_metadata(tmp_path, case, source):
    data, npy = source_files(tmp_path)[case]
    result = read_dataset(data, embeddings=npy)
    assert result.embeddings is not None
    assert result.embeddings.source == source
    np.testing.assert_array_equal(result.embeddings.vectors, VECTORS.astype(np.float32))
    assert result.embeddings.vectors.dtype == np.float32
    assert result.metadata_columns == ["snr_db"]
    assert not any(c.startswith("emb") for c in result.frame.columns)
    assert result.warnings == []


def test_a_file_without_an_embedding_has_none(tmp_path):
    assert read_dataset(csv_file(tmp_path, base())).embeddings is None


def test_parquet_fixed_size_lists_of_integers(tmp_path):
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("label", pa.string()),
            ("prediction", pa.string()),
            ("snr_db", pa.float64()),
            ("embedding", pa.list_(pa.int32(), 2)),
        ]
    )
    path = parquet_file(tmp_path, listed(base(), [[1, 2], [3, 4], [5, 6]]), schema)
    vectors = read_dataset(path).embeddings.vectors
    np.testing.assert_array_equal(vectors, [[1, 2], [3, 4], [5, 6]])


# ---------------------------------------------------------------------- bad input
def bad_cases(tmp_path):
    ragged = [[1.0, 2.0, 3.0], [1.0, 2.0], [1.0, 2.0, 3.0]]
    records = base().to_dict("records")
    words = VECTORS.tolist()
    words[2][1] = "loud"
    return {
        "parquet ragged": (
            parquet_file(tmp_path, listed(base(), ragged)),
            None,
            r"row 2, column 'embedding': has 2 values where the first embedding has 3",
        ),
        "jsonl ragged": (
            jsonl_file(
                tmp_path, [r | {"embedding": v} for r, v in zip(records, ragged, strict=True)]
            ),
            None,
            r"line 2, column 'embedding': has 2 values where the first embedding has 3",
        ),
        "jsonl not a number": (
            jsonl_file(
                tmp_path, [r | {"embedding": v} for r, v in zip(records, words, strict=True)]
            ),
            None,
            r"line 3, column 'embedding': holds 'loud', which is not a number",
        ),
        "jsonl a boolean": (
            jsonl_file(
                tmp_path,
                [
                    r | {"embedding": v}
                    for r, v in zip(records, [[1, 2], [True, 0], [3, 4]], strict=True)
                ],
            ),
            None,
            r"line 2, column 'embedding': holds True, which is not a number",
        ),
        "jsonl missing": (
            jsonl_file(
                tmp_path,
                [
                    r | {"embedding": v}
                    for r, v in zip(records, [[1, 2], None, [3, 4]], strict=True)
                ],
            ),
            None,
            r"line 2, column 'embedding': has no embedding",
        ),
        "jsonl not a list": (
            jsonl_file(
                tmp_path,
                [r | {"embedding": v} for r, v in zip(records, [[1, 2], 7, [3, 4]], strict=True)],
            ),
            None,
            r"line 2, column 'embedding': value '7' is not a list of numbers",
        ),
        "parquet null inside": (
            parquet_file(tmp_path, listed(base(), [[1.0, None], [1.0, 2.0], [3.0, 4.0]])),
            None,
            r"row 1, column 'embedding': holds a missing value",
        ),
        "parquet lists of text": (
            parquet_file(tmp_path, listed(base(), [["a"], ["b"], ["c"]])),
            None,
            r"column 'embedding': holds lists of string; expected lists of numbers",
        ),
        "parquet NaN": (
            arrow_parquet(tmp_path, [[1.0, 2.0], [float("nan"), 2.0], [3.0, 4.0]]),
            None,
            r"row 2, column 'embedding': holds NaN or infinity",
        ),
        "csv infinity in text": (
            csv_file(tmp_path, listed(base(), ["[1, 2]", "[1, 2]", "[1e999, 2]"])),
            None,
            r"line 4, column 'embedding': holds NaN or infinity",
        ),
        "csv not JSON": (
            csv_file(tmp_path, listed(base(), ["[1, 2]", "1;2", "[1, 2]"])),
            None,
            r"line 3, column 'embedding': value '1;2' is not a JSON array of numbers",
        ),
        "emb_ text": (
            csv_file(tmp_path, numbered(base(), VECTORS).assign(emb_1=["1", "loud", "2"])),
            None,
            r"line 3, column 'emb_1': value 'loud' is not a number",
        ),
        "emb_ empty": (
            csv_file(tmp_path, numbered(base(), VECTORS).assign(emb_0=[1.0, np.nan, 2.0])),
            None,
            r"line 3, column 'emb_0': is empty or NaN",
        ),
        "emb_ infinite": (
            csv_file(tmp_path, numbered(base(), VECTORS).assign(emb_2=[1.0, 2.0, np.inf])),
            None,
            r"line 4, column 'emb_2': is infinite",
        ),
        "emb_ gap": (
            csv_file(tmp_path, numbered(base(), VECTORS).drop(columns="emb_1")),
            None,
            r"embedding columns emb_0 … emb_2 must all be there; missing emb_1",
        ),
        "emb_ leading zero": (
            csv_file(tmp_path, numbered(base(), VECTORS).rename(columns={"emb_2": "emb_02"})),
            None,
            r"numbered from 0, no leading zeros\); got 'emb_02'",
        ),
        "both a column and emb_": (
            csv_file(tmp_path, listed(numbered(base(), VECTORS), ["[1]", "[2]", "[3]"])),
            None,
            r"both an 'embedding' column and emb_\* columns",
        ),
        "npy rows differ": (
            csv_file(tmp_path, base()),
            npy_file(tmp_path, VECTORS[:2]),
            r"'emb.npy' has 2 rows but the data has 3 examples",
        ),
        "npy 1-D": (
            csv_file(tmp_path, base()),
            npy_file(tmp_path, VECTORS[:, 0]),
            r"holds a 1-D array of shape \(3,\); expected a 2-D array",
        ),
        "npy 3-D": (
            csv_file(tmp_path, base()),
            npy_file(tmp_path, VECTORS.reshape(3, 3, 1)),
            r"holds a 3-D array",
        ),
        "npy pickled objects": (
            csv_file(tmp_path, base()),
            npy_file(tmp_path, np.array([[1, "x"], [2, "y"], [3, "z"]], dtype=object)),
            r"holds a pickled \(object\) array or is not a \.npy file",
        ),
        "npy text": (
            csv_file(tmp_path, base()),
            npy_file(tmp_path, np.array([["a"], ["b"], ["c"]])),
            r"holds <U1 values; expected numbers",
        ),
        "npy NaN": (
            csv_file(tmp_path, base()),
            npy_file(tmp_path, np.where(np.eye(3, dtype=bool), np.nan, VECTORS)),
            r"holds NaN or infinity in 3 rows \(array rows 0, 1, 2, counted from 0\)",
        ),
        "npy not an array": (
            csv_file(tmp_path, base()),
            tmp_path / "notes.txt",
            r"'notes.txt' holds a pickled \(object\) array or is not a \.npy file",
        ),
        "npy missing": (
            csv_file(tmp_path, base()),
            tmp_path / "nowhere.npy",
            r"the embeddings file '.*nowhere.npy' does not exist",
        ),
        "npy and a column": (
            csv_file(tmp_path, numbered(base(), VECTORS)),
            npy_file(tmp_path, VECTORS),
            r"the file has its own embedding \(columns emb_0 … emb_2\) and --embeddings",
        ),
    }


BAD = [
    "parquet ragged",
    "jsonl ragged",
    "jsonl not a number",
    "jsonl a boolean",
    "jsonl missing",
    "jsonl not a list",
    "parquet null inside",
    "parquet lists of text",
    "parquet NaN",
    "csv infinity in text",
    "csv not JSON",
    "emb_ text",
    "emb_ empty",
    "emb_ infinite",
    "emb_ gap",
    "emb_ leading zero",
    "both a column and emb_",
    "npy rows differ",
    "npy 1-D",
    "npy 3-D",
    "npy pickled objects",
    "npy text",
    "npy NaN",
    "npy not an array",
    "npy missing",
    "npy and a column",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_embeddings_are_refused_with_the_problem_named(tmp_path, case):
    (tmp_path / "notes.txt").write_text("not an array\n")
    data, npy, message = bad_cases(tmp_path)[case]
    with pytest.raises(ImportValidationError, match=message):
        read_dataset(data, embeddings=npy)


def test_every_bad_case_is_tested(tmp_path):
    assert sorted(BAD) == sorted(bad_cases(tmp_path))


def test_a_pickled_array_is_never_unpickled(tmp_path, monkeypatch):
    # np.load must be called without pickle: a malicious pickle would run code on load.
    calls = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: calls.append(k) or real(*a, **k))
    path = npy_file(tmp_path, np.array([{"x": 1}] * 3, dtype=object))
    with pytest.raises(ImportValidationError, match="pickled"):
        read_dataset(csv_file(tmp_path, base()), embeddings=path)
    assert calls == [{"allow_pickle": False}]


def test_the_cli_refuses_bad_embeddings_and_writes_nothing(tmp_path, capsys):
    from erroranalysis.cli import main

    db = tmp_path / "p.db"
    data = csv_file(tmp_path, base())
    vectors = npy_file(tmp_path, VECTORS[:2])
    code = main(
        ["import", str(data), "--dataset", "d", "--db", str(db), "--embeddings", str(vectors)]
    )
    assert code == 1
    assert "has 2 rows but the data has 3 examples" in capsys.readouterr().err
    assert not db.exists()


# ---------------------------------------------------------------------- the store
def test_the_store_keeps_float32_per_run_and_a_replace_without_drops_them(tmp_path):
    data, npy = csv_file(tmp_path, base()), npy_file(tmp_path, VECTORS)
    with open_project(tmp_path / "p.db") as project:
        store = project.dataset("d", create=True)
        store.import_result(read_dataset(data, embeddings=npy), actor="t")
        store.import_result(read_dataset(data), run="v2", actor="t")
        kept = store.embeddings("main")
        assert kept.source == "emb.npy" and kept.vectors.dtype == np.float32
        np.testing.assert_array_equal(kept.vectors, VECTORS.astype(np.float32))
        assert store.embeddings("v2") is None
        size = project._conn.execute("SELECT length(data), dimensions FROM embeddings").fetchall()
        assert size == [(3 * 3 * 4, 3)]
        store.import_result(read_dataset(data), run="main", replace=True, actor="t")
        assert store.embeddings("main") is None


def test_the_store_refuses_embeddings_of_another_length(tmp_path):
    result = read_dataset(csv_file(tmp_path, base()))
    with open_project(tmp_path / "p.db") as project:
        with pytest.raises(StoreError, match="2 embeddings for 3 examples"):
            add_run(project, "d", result.frame, source="x", embeddings=Embeddings(VECTORS[:2], "x"))
        assert project.dataset_names() == []


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=20),
        elements=st.floats(allow_nan=False, allow_infinity=False, width=32),
    )
)
def test_blob_round_trip(vectors):
    back = from_blob(to_blob(Embeddings(vectors, "s")), dimensions=vectors.shape[1], source="s")
    np.testing.assert_array_equal(back.vectors, vectors)


def test_embeddings_are_read_only():
    embeddings = Embeddings(VECTORS, "s")
    with pytest.raises(ValueError, match="read-only"):
        embeddings.vectors[0, 0] = 1.0


# ---------------------------------------------------------------------- TF-IDF
def test_tfidf_puts_texts_with_the_same_words_together():
    texts = ["the car engine hums", "engine hum in the car", "people talking", "talking people"]
    vectors = tfidf_embeddings(pd.DataFrame({"text": texts}), "text").vectors
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[2, 3] > similarity[1, 3]


def test_tfidf_of_a_long_corpus_is_reduced_and_seeded():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.choice(words, 12)) for _ in range(300)]
    frame = pd.DataFrame({"text": texts})
    first, again = tfidf_embeddings(frame, "text", seed=1), tfidf_embeddings(frame, "text", seed=1)
    assert first.vectors.shape == (300, 100)
    np.testing.assert_array_equal(first.vectors, again.vectors)


def test_tfidf_of_no_words_says_so():
    with pytest.raises(ValueError, match="column 'text' holds no words"):
        tfidf_embeddings(pd.DataFrame({"text": ["", None, "!"]}), "text")


def test_embedding_bytes_of_a_parquet_upload(tmp_path):
    # An upload (a file object) reads its list column from the same bytes.
    data = parquet_file(tmp_path, listed(base(), VECTORS.tolist())).read_bytes()
    result = read_dataset(io.BytesIO(data), filename="up.parquet")
    np.testing.assert_array_equal(result.embeddings.vectors, VECTORS.astype(np.float32))


def test_the_array_given_is_never_changed():
    given = VECTORS.astype(np.float32)
    embeddings = Embeddings(given, "s")
    assert given.flags.writeable and not embeddings.vectors.flags.writeable
    given[0, 0] = 99.0
    assert embeddings.vectors[0, 0] == VECTORS[0, 0]


def test_embeddings_pickle_and_hash_for_the_app_cache():
    from streamlit.runtime.caching.cache_type import CacheType
    from streamlit.runtime.caching.hashing import update_hash

    embeddings = Embeddings(np.arange(600_000, dtype=np.float32).reshape(-1, 6), "s")
    back = pickle.loads(pickle.dumps(embeddings))
    np.testing.assert_array_equal(back.vectors, embeddings.vectors)
    assert back.source == "s" and not back.vectors.flags.writeable
    digests = []
    for value in (embeddings, back, Embeddings(embeddings.vectors + 1, "s")):
        hasher = hashlib.new("md5")
        update_hash(value, hasher, CacheType.DATA)
        digests.append(hasher.hexdigest())
    assert digests[0] == digests[1] != digests[2]


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 30), st.integers(1, 8)),
        elements=st.floats(allow_nan=False, allow_infinity=False, width=32),
    ),
    st.sampled_from(["npy", "emb_ columns", "jsonl"]),
)
def test_what_is_imported_is_read_back_from_the_project(vectors, source):
    import tempfile
    from pathlib import Path

    n = len(vectors)
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "label": "a", "prediction": "a"})
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        npy = None
        if source == "npy":
            data, npy = csv_file(folder, frame), npy_file(folder, vectors)
        elif source == "emb_ columns":
            # Python's shortest round-trip text of each float32, as a CSV holds it.
            data = csv_file(folder, numbered(frame, vectors.astype(np.float64)))
        else:
            values = vectors.astype(np.float64).tolist()
            data = jsonl_file(
                folder,
                [
                    r | {"embedding": v}
                    for r, v in zip(frame.to_dict("records"), values, strict=True)
                ],
            )
        with open_project(folder / "p.db") as project:
            store = project.dataset("d", create=True)
            store.import_result(read_dataset(data, embeddings=npy), actor="t")
            np.testing.assert_array_equal(store.embeddings().vectors, vectors)
