"""The Unicode tables against the running Python's `unicodedata`."""

import unicodedata

from keras_bert_pkg.text import unicode_tables
from tests.test_case import TestCase


class UnicodeTablesTest(TestCase):
    def test_scanned_ranges_cover_every_assigned_code_point(self):
        scanned = set()
        for lo, hi in unicode_tables.SCANNED_RANGES:
            scanned.update(range(lo, hi))
        for cp in range(unicode_tables.MAX_CODE_POINT):
            if cp not in scanned:
                self.assertIn(unicodedata.category(chr(cp)), ("Cn", "Co"), msg=hex(cp))

    def test_lower_casing_keeps_whitespace_and_cjk_classes(self):
        classes = unicode_tables.class_table()
        mapping, _ = unicode_tables.lowercase_tables()
        for cp, mapped in mapping.items():
            for m in mapped:
                self.assertNotEqual(classes[m], unicode_tables.REMOVE, msg=hex(cp))
                self.assertEqual(classes[m] == unicode_tables.SPACE, classes[cp] == unicode_tables.SPACE)
                self.assertEqual(classes[m] == unicode_tables.CJK, classes[cp] == unicode_tables.CJK)
