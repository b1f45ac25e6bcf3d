import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.glue import read_glue
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.models.bert_task import _is_raw
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import (SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data,
                             tiny_backbone_config)

GLUE = SHARED_DATA / "glue"


def _preprocessor(length=32, dynamic_padding=False):
    return BertPreprocessor(BertTokenizer(str(UNCASED_VOCAB)), sequence_length=length,
                            dynamic_padding=dynamic_padding)


@requires_shared_data
class BertClassifierTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sst2 = read_glue("sst2", GLUE, "dev").subset(8)
        cls.rte = read_glue("rte", GLUE, "dev").subset(6)
        cls.stsb = read_glue("stsb", GLUE, "dev").subset(6)

    def test_task_contract_on_raw_pairs(self):
        self.run_task_test(BertClassifier,
                           {"backbone": BertBackbone(**tiny_backbone_config()), "num_classes": 2,
                            "preprocessor": _preprocessor(64, dynamic_padding=True)},
                           tuple(self.rte.texts), self.rte.labels, (6, 2))

    def test_task_contract_on_raw_sentences_regression(self):
        self.run_task_test(BertClassifier,
                           {"backbone": BertBackbone(**tiny_backbone_config()), "num_classes": 1,
                            "preprocessor": _preprocessor(32)},
                           self.stsb.texts[0], self.stsb.labels, (6, 1))

    def test_token_id_classifier(self):
        pre = _preprocessor()
        x = {k: v.numpy() for k, v in pre(tf.constant(self.sst2.texts[0])).items()}
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=2)
        self.assertIsNone(model.preprocessor)
        self.assertIsInstance(model.get_layer("logits"), keras.layers.Dense)
        out = self.run_model_test(model, x, self.sst2.labels, loss=None)
        self.assertEqual(out.shape, (8, 2))
        # The default loss is cross-entropy on logits: initial loss is close to ln 2.
        fresh = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=2)
        fresh.compile()
        loss = fresh.evaluate(x, self.sst2.labels, verbose=0)[0]
        self.assertAllClose(loss, np.log(2.0), atol=0.1)

    def test_regression(self):
        pre = _preprocessor(48)
        x = {k: v.numpy() for k, v in pre(tuple(tf.constant(t) for t in self.stsb.texts)).items()}
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=1)
        model.compile(optimizer="sgd")
        self.assertIsInstance(model.loss, keras.losses.MeanSquaredError)
        loss = model.evaluate(x, self.stsb.labels, verbose=0)
        out = model.predict(x, verbose=0)
        self.assertEqual(out.shape, (6, 1))
        self.assertAllClose(loss, np.mean((out[:, 0] - self.stsb.labels) ** 2), rtol=1e-4)

    def test_raw_text_pairs_fit_evaluate_predict_save(self):
        pre = _preprocessor(64, dynamic_padding=True)
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=2,
                               preprocessor=pre)
        a, b = (np.array(t) for t in self.rte.texts)
        y = self.rte.labels
        # Raw text gives exactly what the token-id path gives.
        raw = model.predict((a, b), verbose=0)
        tokens = model.predict({k: v.numpy() for k, v in pre((tf.constant(a), tf.constant(b))).items()},
                               verbose=0)
        self.assertAllClose(raw, tokens, atol=1e-5)
        # fit: raw arrays (shuffled), with validation data; a dataset of (text, label) batches.
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit((a, b), y, batch_size=4, epochs=2, verbose=0,
                            validation_data=((a, b), y))
        self.assertEqual(len(history.history["val_loss"]), 2)
        batched = tf.data.Dataset.from_tensor_slices(((a, b), y)).batch(3)
        self.assertTrue(np.isfinite(model.fit(batched, verbose=0).history["loss"][0]))
        loss, acc = model.evaluate((list(a), list(b)), y, verbose=0)
        after = model.predict((a, b), verbose=0)
        self.assertAllClose(model.predict(batched, verbose=0), after, atol=1e-5)
        # A dataset of unbatched text pairs is batched for us.
        unbatched = tf.data.Dataset.from_tensor_slices((a, b))
        self.assertAllClose(model.predict(unbatched, batch_size=4, verbose=0), after, atol=1e-5)
        # argmax accuracy from predict agrees with evaluate's accuracy.
        self.assertAllClose(acc, np.mean(np.argmax(after, -1) == y), atol=1e-6)
        # The .keras file carries the preprocessor (and its vocabulary).
        revived = self.run_serialization_test(model)
        self.assertEqual(revived.preprocessor.sequence_length, 64)
        path = self.get_temp_dir() + "/rte.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        self.assertIsInstance(loaded, BertClassifier)
        self.assertEqual(loaded.num_classes, 2)
        self.assertTrue(loaded.compiled)  # re-compiled through BertClassifier.compile
        self.assertAllClose(loaded.predict((a, b), verbose=0), after, atol=1e-5)

    def test_raw_single_sentences(self):
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=2,
                               preprocessor=_preprocessor(32), dropout=0.2)
        sentences = self.sst2.texts[0]
        out = self.run_model_test(model, np.array(sentences), self.sst2.labels)
        self.assertEqual(out.shape, (8, 2))
        self.assertAllClose(model.predict(tf.constant(sentences), verbose=0), out, atol=1e-5)
        self.assertEqual(model.get_config()["dropout"], 0.2)

    def test_raw_detection(self):
        self.assertTrue(_is_raw(["a", "b"]))
        self.assertTrue(_is_raw((["a"], ["b"])))
        self.assertTrue(_is_raw(np.array([b"a"])))
        self.assertTrue(_is_raw(tf.constant(["a"])))
        self.assertFalse(_is_raw(tf.constant([[1, 2]])))
        self.assertFalse(_is_raw(np.array([[1, 2]])))
        self.assertFalse(_is_raw({"token_ids": np.array([[1]])}))

    def test_mixed_precision_logits_are_float32(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=3)
            out = model(BertBackbone(**tiny_backbone_config()).dummy_inputs())
        finally:
            keras.config.set_dtype_policy("float32")
        self.assertEqual(model.backbone.compute_dtype, "bfloat16")
        self.assertEqual(str(out.dtype), "<dtype: 'float32'>")

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "num_classes"):
            BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=0)
