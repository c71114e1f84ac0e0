import os
import tempfile
import unittest

from csv_tools import sort_rows


def write(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    f.write(text)
    f.close()
    return f.name


class SortRows(unittest.TestCase):
    def setUp(self):
        self.path = write("name,age\nbob,9\nalice,10\ncarol,2\n")

    def tearDown(self):
        os.unlink(self.path)

    def test_numbers_sort_as_numbers(self):
        self.assertEqual([r["name"] for r in sort_rows(self.path, "age")], ["carol", "bob", "alice"])

    def test_text_sorts_as_text(self):
        self.assertEqual([r["name"] for r in sort_rows(self.path, "name")], ["alice", "bob", "carol"])

    def test_unknown_column(self):
        with self.assertRaises(KeyError):
            sort_rows(self.path, "height")
