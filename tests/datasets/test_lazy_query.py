"""``LazyFrame.query`` with pandas' string form: same rows as pandas, run in the database,
and text outside the small grammar is refused without running anything."""

from __future__ import annotations

import pandas as pd
import pytest

from omega_jupyter.exceptions import InvalidFilterError, UnknownColumnError


@pytest.fixture
def sales(om) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "city": ["Zurich", "Bern", "Basel", None, "Bern", "Zurich"],
            "amount": [120.0, 250.0, 310.5, 99.0, None, 205.0],
            "n": [1, 2, 3, 4, 5, 6],
            "paid": [True, False, True, True, False, False],
            "unit price": [1.5, 2.0, 2.5, 3.0, 3.5, 4.0],
        }
    )
    om.datasets.put(df, "sales")
    return df


EXPRESSIONS = [
    "amount > 200",
    "200 < amount",
    "amount >= 205 and city == 'Zurich'",
    "amount > 200 or n == 1",
    "not amount > 200",
    "(amount > 200) & (n < 5)",
    "(n < 2) | (n > 5)",
    "~(n > 2)",
    "city in ['Bern', 'Basel']",
    "city not in ('Bern', 'Basel')",
    "city == ['Bern', 'Zurich']",
    "city != 'Bern'",
    "1 < n <= 4",
    "n > -1 and amount < 1e3",
    "`unit price` > 2.2",
    "`unit price` < n",
    "paid",
    "paid == True and not (city == 'Bern')",
    'city == "Zurich" or city == "it\'s `odd`"',
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_query_string_matches_pandas(om, sales, text):
    mdf = om.datasets.getl("sales")
    got = mdf.query(text)
    assert "WHERE" in got.sql
    pd.testing.assert_frame_equal(got.value, sales.query(text))


def test_query_string_with_keyword_filters_and_chaining(om, sales):
    mdf = om.datasets.getl("sales")
    got = mdf.query("amount > 100", city="Zurich").query("n > 1")
    want = sales.query("amount > 100 and city == 'Zurich' and n > 1")
    pd.testing.assert_frame_equal(got.value, want)
    assert len(mdf.query("amount > 200")) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount > @limit", "local variables"),
        ("__import__('os').system('true')", r"call \(.*not supported"),
        ("amount.abs() > 2", r"operand call \(.*not supported"),
        ("amount + 1 > 2", r"operand binop \(.*not supported"),
        ("amount > 200 &", "not a valid expression"),
        ("amount > 200 & n < 3", r"operand binop \(.*not supported"),
        ("`unit price > 2", "unclosed backtick"),
        ("amount < [1, 2]", "ordering comparison with a list"),
        ("city in 'Bern'", "other than a list"),
        ("1 < 2", "comparison without a column"),
        ("amount is None", "operator Is"),
        ("n", "must be boolean"),
        ("", "non-empty"),
    ],
)
def test_unsupported_query_text_is_a_clear_error(om, sales, text, message):
    mdf = om.datasets.getl("sales")
    with pytest.raises(InvalidFilterError, match=message):
        mdf.query(text)
    assert len(mdf) == len(sales)


def test_unknown_column_in_query_text(om, sales):
    with pytest.raises(UnknownColumnError):
        om.datasets.getl("sales").query("price > 2")
