import csv
import io

from tweet_sentiment.storage.csvio import decode_lines, neutralise_formula, to_csv_bytes


def test_decode_lines_mixed_encodings_per_line():
    data = "caf\u00e9 ok\n".encode() + "na\u00efve\n".encode("cp1252")
    assert decode_lines(data) == "caf\u00e9 ok\nna\u00efve\n"


def test_decode_lines_drops_utf8_bom_and_reads_utf16():
    assert decode_lines(b"\xef\xbb\xbfa,b\n") == "a,b\n"
    assert decode_lines("a,b\n".encode("utf-16")) == "a,b\n"


def test_neutralise_formula_prefixes_only_formula_like_text():
    assert neutralise_formula("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert neutralise_formula("+1") == "'+1"
    assert neutralise_formula("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise_formula("fine") == "fine"


def test_to_csv_bytes_quotes_newlines_and_neutralises_for_people():
    out = to_csv_bytes(["a", "b"], [["x\ny", "=1+1"]], for_people=True).decode()
    assert out == 'a,b\n"x\ny",\'=1+1\n'
    assert to_csv_bytes(["a"], [["=1"]]).decode() == "a\n=1\n"


def test_a_lone_carriage_return_in_a_cell_is_quoted_and_reads_back_as_one_row():
    """Found by Hypothesis (test_fuzz_intake): a reviewer named "\\r" split the review CSV's row in two."""
    out = to_csv_bytes(["a", "b", "c"], [["x", "\r", "y\rz"]]).decode()
    assert out == 'a,b,c\nx,"\r","y\rz"\n'
    assert list(csv.reader(io.StringIO(out, newline=""))) == [["a", "b", "c"], ["x", "\r", "y\rz"]]
