import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pictrace.features.arrays import load_arrays, save_arrays

_DTYPES = st.sampled_from(["<u1", "<u2", "<i4", "<f2", "<f4", "<i8", "|b1"])


@given(
    st.dictionaries(
        st.text("abcxyz_", min_size=1, max_size=8),
        _DTYPES.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3))),
        max_size=4,
    )
)
def test_arrays_round_trip_with_names_dtypes_and_shapes(arrays):
    back = load_arrays(save_arrays(**arrays))
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype
        np.testing.assert_array_equal(back[name], value)


def test_object_arrays_are_refused_both_ways():
    with pytest.raises(ValueError, match="cannot be stored"):
        save_arrays(x=np.array([{"a": 1}], dtype=object))
    blob = save_arrays(x=np.zeros(2, np.uint8)).replace(b"|u1", b"|O1")
    with pytest.raises(ValueError):
        load_arrays(blob)


@pytest.mark.parametrize("cut", [0, 3, 7, 12, 20, -1])
def test_truncated_or_foreign_bytes_raise_value_error(cut):
    blob = save_arrays(desc=np.arange(256, dtype=np.uint8).reshape(2, 128), size=np.ones(2))
    with pytest.raises(ValueError):
        load_arrays(blob[:cut])
    with pytest.raises(ValueError):
        load_arrays(b"PK\x03\x04" + blob)
