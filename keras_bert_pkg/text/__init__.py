"""In-graph text processing: the BERT tokenizer (and, beside it, the preprocessor)."""

from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

__all__ = ["BertPreprocessor", "BertTokenizer"]
