"""vaelint's source segments are ast.get_source_segment's, read from lines split once per source
(Python 3.11's splits them again on every call: a 2.4 MB Colab export took a minute)."""

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from vaelint.source.astutil import segment_of

SOURCES = [
    "x = 1\ny = foo(a,\n  b)\n",
    "x = 1\r\ny = foo(a,\r\n  b)  # é\rz = 'é' + g(\n 2)\n",
    'def f(t):\n    """docstring\n\n    ![img](data:image/png;base64,AAAA)\n    """\n    return {"k": t ** 2}\n',
    "s = '''a\rb\r\nc'''; q = [1,\n 2,\r 3]\n",
]


def _agree(src: str) -> None:
    for node in ast.walk(ast.parse(src)):
        if hasattr(node, "end_col_offset"):
            assert segment_of(src, node) == ast.get_source_segment(src, node), ast.dump(node)


def test_segments_are_the_standard_librarys():
    for src in SOURCES:
        _agree(src)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "bb", "é", "'x'", "f(1,", "2)", "[", "]", "# c", " "]), st.sampled_from(["\n", "\r\n", "\r", " "])),
        max_size=12,
    )
)
def test_segments_agree_on_any_line_ends(parts):
    body = "".join(f"v{i} = {tok!r}{end}" for i, (tok, end) in enumerate(parts))
    src = body + "\nw = g(\r\n 1)\n"
    try:
        ast.parse(src)
    except SyntaxError:
        return
    _agree(src)
