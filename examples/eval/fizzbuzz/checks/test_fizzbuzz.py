import unittest

from fizzbuzz import fizzbuzz


class FizzBuzz(unittest.TestCase):
    def test_first_fifteen(self):
        expected = ["1", "2", "Fizz", "4", "Buzz", "Fizz", "7", "8", "Fizz", "Buzz",
                    "11", "Fizz", "13", "14", "FizzBuzz"]
        self.assertEqual([fizzbuzz(i) for i in range(1, 16)], expected)

    def test_large(self):
        self.assertEqual(fizzbuzz(300), "FizzBuzz")
        self.assertEqual(fizzbuzz(301), "301")
