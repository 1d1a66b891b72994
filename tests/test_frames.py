"""The one check of a table argument: a DataFrame holding the columns read."""

from __future__ import annotations

import pandas as pd
import pytest

from erroranalysis.frames import check_frame

FRAME = pd.DataFrame({"id": ["a"], "correct": [True]})


@pytest.mark.parametrize(
    ("frame", "name", "columns", "message"),
    [
        ([1, 2], "examples", (), "examples must be a pandas DataFrame, got list"),
        (pd.Series([1]), "sheet 'x'", (), "sheet 'x' must be a pandas DataFrame, got Series"),
        (None, "reviews", ("id",), "reviews must be a pandas DataFrame, got NoneType"),
        (FRAME, "reviews", ("id", "reviewer", "tags"), r"reviews has no \['reviewer', 'tags'\]"),
    ],
)
def test_a_bad_table_is_named_in_the_error(frame, name, columns, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        check_frame(frame, name, columns)


@pytest.mark.parametrize("columns", [(), ("id",), ("correct", "id")])
def test_a_good_table_comes_back_untouched(columns):
    before = FRAME.copy()
    assert check_frame(FRAME, "examples", columns) is FRAME
    pd.testing.assert_frame_equal(FRAME, before)
