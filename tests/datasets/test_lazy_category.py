"""Lazy masks on categorical columns compare against the category values, as pandas does."""

import pandas as pd
import pytest


def test_mask_on_category_column_matches_pandas(om):
    df = pd.DataFrame(
        {
            "city": pd.Categorical(
                ["Zurich", "London", "Zurich", None], categories=["London", "Zurich"]
            ),
            "amount": [1.5, 2.0, 4.0, 8.0],
        }
    )
    om.datasets.put(df, "sales")
    lazy = om.datasets.getl("sales")
    picked = lazy[lazy["city"] == "Zurich"]
    assert picked["amount"].sum() == pytest.approx(df[df["city"] == "Zurich"]["amount"].sum())
    pd.testing.assert_frame_equal(picked.value, df[df["city"] == "Zurich"])
