"""Rule tags: what a condition selects, and what it refuses to run."""

import numpy as np
import pandas as pd
import pytest

from erroranalysis.rules import evaluate_rule, parse_rule

FRAME = pd.DataFrame(
    {
        "snr_db": [5.0, 12.0, np.nan, -3.0, 20.0],
        "noise": ["car", "people", "car", None, "clean"],
        "noise type": ["a", "b", "a", "b", "a"],
        "loud": [True, False, True, False, None],
    }
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("snr_db < 10", [True, False, False, True, False]),
        ("snr_db >= 12", [False, True, False, False, True]),
        ("0 <= snr_db < 15", [True, True, False, False, False]),
        ("snr_db < -1", [False, False, False, True, False]),
        ("noise == 'car'", [True, False, True, False, False]),
        ('noise != "car"', [False, True, False, True, True]),
        ("noise in ['car', 'people']", [True, True, True, False, False]),
        ("noise not in ('car',)", [False, True, False, True, True]),
        ("noise == 'car' and snr_db < 10", [True, False, False, False, False]),
        ("noise == 'clean' or snr_db < 0", [False, False, False, True, True]),
        ("not noise == 'car'", [False, True, False, True, True]),
        ("`noise type` == 'b'", [False, True, False, True, False]),
        ("loud", [True, False, True, False, False]),
    ],
)
def test_rules_select_the_right_examples(rule, expected):
    assert evaluate_rule(rule, FRAME).tolist() == expected


@pytest.mark.filterwarnings("error")  # no cast pandas is deprecating (a bool fill of text)
@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (pd.Series(["a", "", None, "b"]), [True, False, False, True]),
        (pd.Series([1.5, 0.0, np.nan, -2.0]), [True, False, False, True]),
        (pd.Series([1, 0, None, 3], dtype="Int64"), [True, False, False, True]),
        (pd.Series([True, False, None, True], dtype="boolean"), [True, False, False, True]),
        (pd.Series([True, False, None, True], dtype=object), [True, False, False, True]),
        (pd.Series([1, 0, 2, 3]), [True, False, True, True]),
    ],
)
def test_a_bare_column_holds_where_its_value_is_true_and_not_missing(column, expected):
    frame = pd.DataFrame({"c": column})
    assert evaluate_rule("c", frame).tolist() == expected
    assert evaluate_rule("not c", frame).tolist() == [not held for held in expected]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "empty"),
        ("__import__('os').system('x')", "not allowed"),
        ("snr_db.__class__ == 1", "not a plain value"),
        ("snr_db < (1).real", "not a plain value"),
        ("snr_db + 1 > 3", "not a plain value"),
        ("[x for x in y]", "not allowed"),
        ("snr_db < ", "not a condition"),
        ("1 < 2", "must name a column"),
        ("noise in 'car'", "needs a list"),
        ("noise is None", "not allowed"),
        ("x" * 501, "longer than 500"),
    ],
)
def test_rules_that_could_run_code_or_make_no_sense_are_refused(rule, message):
    with pytest.raises(ValueError, match=message):
        parse_rule(rule)


@pytest.mark.parametrize(
    ("rule", "message"),
    [("snr < 10", "unknown column 'snr'"), ("noise < 3", "text and numbers do not mix")],
)
def test_rules_fail_clearly_on_the_data(rule, message):
    with pytest.raises(ValueError, match=message):
        evaluate_rule(rule, FRAME)


def test_parse_names_the_columns_read():
    assert parse_rule("`noise type` == 'a' and snr_db < 3").columns == ("noise type", "snr_db")
