"""BertTokenClassifier: contract checks, the masked loss, and the Chinese round trip."""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.conll import read_bio, read_conll, tag_list, write_bio
from keras_bert_pkg.data.token_alignment import TokenAligner, entity_spans
from keras_bert_pkg.evaluation.ner_evaluation import predict_word_tags
from keras_bert_pkg.metrics.masked_token_accuracy import IGNORE_LABEL, masked_token_accuracy
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import (CHINESE_VOCAB, SHARED_DATA, UNCASED_VOCAB, TestCase,
                             requires_shared_data, tiny_backbone_config)

SEED_SENTENCE = "任正非是華為的創始人"
SEED_TAGS = ["B-PERSON", "I-PERSON", "I-PERSON", "O", "B-ORGANIZATION", "I-ORGANIZATION",
             "O", "O", "O", "O"]


def conll_features(n=8, sequence_length=32):
    sentences = read_conll(SHARED_DATA / "ner" / "conll2003" / "valid.txt")[:n]
    aligner = TokenAligner(BertTokenizer(UNCASED_VOCAB), tag_list(sentences),
                           sequence_length=sequence_length)
    return aligner, aligner.encode([s.words for s in sentences], [s.tags for s in sentences])


def inputs_of(features):
    return {k: features[k] for k in ("token_ids", "segment_ids", "padding_mask")}


@requires_shared_data
class BertTokenClassifierTest(TestCase):
    def test_task_contract_on_raw_text(self):
        sentences = read_conll(SHARED_DATA / "ner" / "conll2003" / "valid.txt")[:6]
        tokenizer = BertTokenizer(UNCASED_VOCAB)
        preprocessor = BertPreprocessor(tokenizer, sequence_length=48)
        texts = [" ".join(s.words) for s in sentences]
        labels = np.where(preprocessor(texts)["padding_mask"].numpy(), 1, IGNORE_LABEL).astype("int32")
        self.run_task_test(BertTokenClassifier,
                           {"backbone": BertBackbone(**tiny_backbone_config()), "num_classes": 3,
                            "preprocessor": preprocessor},
                           texts, labels, (6, 48, 3))

    def test_model_contract(self):
        aligner, features = conll_features()
        model = BertTokenClassifier(BertBackbone(**tiny_backbone_config()),
                                    num_classes=len(aligner.tags))
        out = self.run_model_test(model, inputs_of(features), features["labels"])
        self.assertEqual(out.shape, features["token_ids"].shape + (len(aligner.tags),))
        self.assertEqual(model.get_layer("logits").units, len(aligner.tags))
        self.assertIsInstance(model.backbone, BertBackbone)
        self.assertIsNone(model.preprocessor)

    def test_loss_is_mean_over_labelled_tokens_and_accuracy_masks(self):
        aligner, features = conll_features()
        model = BertTokenClassifier(BertBackbone(**tiny_backbone_config()),
                                    num_classes=len(aligner.tags), dropout=0.0)
        model.compile()
        x, y = inputs_of(features), features["labels"]
        loss = model.evaluate(x, y, batch_size=len(y), verbose=0, return_dict=True)
        logits = model.predict(x, verbose=0)
        mask = y != IGNORE_LABEL
        self.assertLess(mask.sum(), (features["padding_mask"] == 1).sum())  # some ignored
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(np.maximum(y, 0), logits).numpy()
        self.assertAllClose(loss["loss"], ce[mask].mean(), atol=1e-5)
        accuracy = (logits.argmax(-1) == y)[mask].mean()
        self.assertAllClose(loss["masked_token_accuracy"], accuracy, atol=1e-6)
        self.assertAllClose(masked_token_accuracy(y, logits), accuracy, atol=1e-6)

    def test_chinese_seed_sentence_round_trip(self):
        # A character-per-line BIO file → reader → aligner → a small model fit on it →
        # decoder → the two entities of the seed's sentence, with their types and spans.
        path = self.get_temp_dir() + "/seed.bio"
        write_bio(path, [(list(SEED_SENTENCE), SEED_TAGS)])
        sentences = read_bio(path)
        self.assertEqual(sentences[0].words, list(SEED_SENTENCE))
        tokenizer = BertTokenizer(CHINESE_VOCAB)
        for ch in "華為創":
            self.assertNotEqual(tokenizer.token_to_id(ch), tokenizer.unk_token_id)
        tags = tag_list(sentences)
        aligner = TokenAligner(tokenizer, tags, sequence_length=16)
        features = aligner.encode([s.words for s in sentences], [s.tags for s in sentences])
        self.assertNotIn(tokenizer.unk_token_id, features["token_ids"][0].tolist())
        self.assertEqual(aligner.decode(features["labels"], features), [SEED_TAGS])

        backbone = BertBackbone(**tiny_backbone_config(
            vocabulary_size=tokenizer.vocabulary_size(), hidden_dim=16, intermediate_dim=32,
            num_layers=1))
        model = BertTokenClassifier(backbone, num_classes=len(tags), dropout=0.0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        x, y = inputs_of(features), features["labels"]
        decoded = None
        for _ in range(20):
            model.fit(x, y, epochs=5, verbose=0)
            decoded = predict_word_tags(model, aligner, features)[0]
            if decoded == SEED_TAGS:
                break
        self.assertEqual(decoded, SEED_TAGS)

        # The same model on the raw sentence (words and spans from the tokenizer).
        text_features, words, spans = aligner.encode_texts([SEED_SENTENCE])
        predicted = aligner.decode(model.predict(inputs_of(text_features), verbose=0),
                                   text_features)[0]
        entities = entity_spans(predicted, words[0], spans[0], separator="")
        self.assertEqual(
            [(e["type"], e["text"], e["char_start"], e["char_end"]) for e in entities],
            [("PERSON", "任正非", 0, 3), ("ORGANIZATION", "華為", 4, 6)])

    def test_bad_num_classes(self):
        with self.assertRaisesRegex(ValueError, "num_classes"):
            BertTokenClassifier(BertBackbone(**tiny_backbone_config()), num_classes=0)
