import unittest

from pages import page_count


class PageCount(unittest.TestCase):
    def test_partial_last_page(self):
        self.assertEqual(page_count(10, 3), 4)

    def test_exact(self):
        self.assertEqual(page_count(9, 3), 3)

    def test_none(self):
        self.assertEqual(page_count(0, 3), 0)
