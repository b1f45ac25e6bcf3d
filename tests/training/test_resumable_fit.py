import os
import tempfile

import keras
import numpy as np

from keras_bert_pkg.data.pretraining_documents import read_documents
from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary, create_training_instances
from keras_bert_pkg.data.pretraining_records import pretraining_record_dataset, write_instances
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from keras_bert_pkg.training.optimizers import create_optimizer
from keras_bert_pkg.training.resumable_checkpoint import ResumableCheckpoint
from keras_bert_pkg.training.resumable_fit import resumable_fit
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data

pytestmark = requires_shared_data

SAMPLE_TEXT = SHARED_DATA / "pretrain_text" / "bert_sample_text" / "sample_text.txt"
STEPS = 6


class _Interrupt(keras.callbacks.Callback):
    """Stops training after `at` optimizer steps, as a kill would."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.at:
            self.model.stop_training = True


class ResumableFitTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        docs = read_documents(str(SAMPLE_TEXT), tokenizer)
        instances = create_training_instances(docs, MaskingVocabulary.from_tokenizer(tokenizer),
                                              max_seq_length=32, dupe_factor=2, max_predictions_per_seq=5)
        cls.records = os.path.join(cls.tmp.name, "train.tfrecord")
        write_instances(instances, cls.records, 32, 5)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def build(self):
        keras.utils.set_random_seed(7)
        model = BertPretrainer(BertBackbone(**tiny_backbone_config(dropout=0.1, max_sequence_length=32)))
        model.compile(optimizer=create_optimizer(1e-3, total_steps=STEPS, warmup_steps=2))
        return model

    def data(self, start):
        return pretraining_record_dataset(self.records, 4, seed=3, skip_batches=start)

    def test_interrupted_run_resumes_exactly(self):
        directory = self.tmp.name
        full = self.build()
        history, start = resumable_fit(full, self.data, STEPS, os.path.join(directory, "a"),
                                       checkpoint_every=2, log_every=2, verbose=0)
        self.assertEqual(start, 0)
        self.assertEqual([h["step"] for h in history], [2, 4, 6])

        interrupted = self.build()
        ckpt_dir = os.path.join(directory, "b")
        resumable_fit(interrupted, self.data, STEPS, ckpt_dir, checkpoint_every=2, log_every=2,
                      verbose=0, callbacks=[_Interrupt(4)])
        self.assertEqual(int(interrupted.optimizer.iterations.numpy()), 4)
        self.assertEqual(ResumableCheckpoint(ckpt_dir, interrupted).steps(), [2, 4])

        resumed = self.build()  # a new process would start like this
        resumed_history, start = resumable_fit(resumed, self.data, STEPS, ckpt_dir, checkpoint_every=2,
                                               log_every=2, verbose=0)
        self.assertEqual(start, 4)
        self.assertEqual(int(resumed.optimizer.iterations.numpy()), STEPS)
        # Same weights and optimizer state as the uninterrupted run (dropout seeds,
        # optimizer moments and the data position all restored).
        for a, b in zip(full.variables, resumed.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
        for a, b in zip(full.optimizer.variables, resumed.optimizer.variables):
            np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value), err_msg=a.path)
        self.assertEqual([h["loss"] for h in resumed_history], [h["loss"] for h in history])
        # A finished run does nothing more.
        again, start = resumable_fit(self.build(), self.data, STEPS, ckpt_dir, checkpoint_every=2,
                                     log_every=2, verbose=0)
        self.assertEqual(start, STEPS)
        self.assertEqual(len(again), 3)

    def test_checkpoint_errors_and_cleanup(self):
        directory = os.path.join(self.tmp.name, "c")
        model = self.build()
        ckpt = ResumableCheckpoint(directory, model, max_to_keep=2)
        self.assertIsNone(ckpt.restore())
        for step in (1, 2, 3):
            ckpt.save(step, {"note": step})
        self.assertEqual(ckpt.steps(), [2, 3])
        os.makedirs(os.path.join(directory, "ckpt-000000009.tmp"))  # a save killed half-way
        self.assertEqual(ckpt.latest_step(), 3)
        self.assertEqual(ckpt.restore()["note"], 3)
        other = BertPretrainer(BertBackbone(**tiny_backbone_config(num_layers=1, max_sequence_length=32)))
        other.compile(optimizer="adam")
        with self.assertRaisesRegex(ValueError, "ckpt-000000003: .* model variables saved"):
            ResumableCheckpoint(directory, other).restore()
        with self.assertRaisesRegex(ValueError, "multiple of log_every"):
            resumable_fit(model, self.data, STEPS, directory, checkpoint_every=3, log_every=2)
