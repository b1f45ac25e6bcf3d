"""BertMultipleChoice on SWAG-format files written by the tests."""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.swag import read_swag, swag_features
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_multiple_choice import BertMultipleChoice
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.data.test_swag import write_official_swag
from tests.test_case import UNCASED_VOCAB, TestCase, requires_shared_data, tiny_backbone_config


def swag_batch(test, sequence_length=40):
    path = test.get_temp_dir() + "/train.csv"
    write_official_swag(path)
    preprocessor = BertPreprocessor(BertTokenizer(UNCASED_VOCAB), sequence_length=sequence_length)
    return swag_features(read_swag(path), preprocessor)


@requires_shared_data
class BertMultipleChoiceTest(TestCase):
    def test_task_contract_on_raw_context_and_endings(self):
        path = self.get_temp_dir() + "/raw.csv"
        write_official_swag(path)
        examples = read_swag(path)[:6]
        contexts = [e.context for e in examples]
        endings = [[f"{e.start} {ending}" for ending in e.endings] for e in examples]
        labels = np.array([e.label for e in examples], "int32")
        preprocessor = BertPreprocessor(BertTokenizer(UNCASED_VOCAB), sequence_length=40,
                                        dynamic_padding=True)
        model = self.run_task_test(BertMultipleChoice,
                                   {"backbone": BertBackbone(**tiny_backbone_config()),
                                    "num_choices": 4, "preprocessor": preprocessor},
                                   (contexts, endings), labels, (6, 4))
        # Raw text gives what swag_features' token ids give.
        x, _ = swag_features(examples, BertPreprocessor(BertTokenizer(UNCASED_VOCAB), 40))
        self.assertAllClose(model.predict(x, verbose=0), model.predict((contexts, endings), verbose=0),
                            atol=1e-5)

    def test_model_contract(self):
        x, y = swag_batch(self)
        model = BertMultipleChoice(BertBackbone(**tiny_backbone_config()), num_choices=4)
        out = self.run_model_test(model, x, y)
        self.assertEqual(out.shape, (len(y), 4))
        self.assertIsNone(model.preprocessor)

    def test_each_choice_scored_alone_and_softmax_over_choices(self):
        x, y = swag_batch(self)
        model = BertMultipleChoice(BertBackbone(**tiny_backbone_config()), num_choices=4)
        logits = model.predict(x, verbose=0)
        for j in range(4):  # choice j scored as its own [batch, length] sequence
            single = {k: v[:, j] for k, v in x.items()}
            score = model.get_layer("logits")(model.backbone(single)["pooled_output"])
            self.assertAllClose(np.asarray(score)[:, 0], logits[:, j], atol=1e-5)
        permutation = [2, 0, 3, 1]  # permuting the choices permutes the logits
        permuted = model.predict({k: v[:, permutation] for k, v in x.items()}, verbose=0)
        self.assertAllClose(permuted, logits[:, permutation], atol=1e-5)
        model.compile()
        loss = model.evaluate(x, y, batch_size=len(y), verbose=0, return_dict=True)["loss"]
        expected = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits).numpy().mean()
        self.assertAllClose(loss, expected, atol=1e-5)
        # Shorter sequences go through the same model (length is not fixed).
        self.assertEqual(model.predict({k: v[:, :, :20] for k, v in x.items()},
                                       verbose=0).shape, (len(y), 4))

    def test_fits_the_written_file(self):
        x, y = swag_batch(self)
        model = BertMultipleChoice(
            BertBackbone(**tiny_backbone_config(num_layers=1)), num_choices=4, dropout=0.0)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(x, y, epochs=25, batch_size=4, verbose=0)
        self.assertLess(history.history["loss"][-1], 0.5 * history.history["loss"][0])
        self.assertEqual(model.predict(x, verbose=0).argmax(-1).tolist(), y.tolist())

    def test_errors(self):
        backbone = BertBackbone(**tiny_backbone_config())
        with self.assertRaisesRegex(ValueError, "num_choices"):
            BertMultipleChoice(backbone, num_choices=1)
