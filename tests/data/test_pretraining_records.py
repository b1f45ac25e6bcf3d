import json
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_pkg.data.create_pretraining_data import create_pretraining_data
from keras_bert_pkg.data.pretraining_documents import read_documents
from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary, create_training_instances
from keras_bert_pkg.data.pretraining_records import (
    FEATURE_NAMES, count_records, instances_dataset, pretraining_record_dataset, write_instances)
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data

SAMPLE_TEXT = SHARED_DATA / "pretrain_text" / "bert_sample_text" / "sample_text.txt"


class PretrainingRecordsTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        cls.vocab = MaskingVocabulary.from_tokenizer(cls.tokenizer)
        docs = read_documents(str(SAMPLE_TEXT), cls.tokenizer)
        cls.instances = create_training_instances(docs, cls.vocab, max_seq_length=64, dupe_factor=2,
                                                  max_predictions_per_seq=10, seed=12345)

    def test_original_feature_names_and_types(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "a.tfrecord")
            n = write_instances(self.instances, path, 64, 10)
            self.assertEqual(n, len(self.instances))
            self.assertEqual(count_records(path), n)
            raw = next(iter(tf.data.TFRecordDataset(path))).numpy()
        example = tf.train.Example.FromString(raw)
        feats = example.features.feature
        self.assertEqual(sorted(feats), sorted(FEATURE_NAMES))
        kinds = {name: feats[name].WhichOneof("kind") for name in feats}
        self.assertEqual(kinds["masked_lm_weights"], "float_list")
        for name in FEATURE_NAMES:
            if name != "masked_lm_weights":
                self.assertEqual(kinds[name], "int64_list", name)
        first = self.instances[0]
        ids = list(feats["input_ids"].int64_list.value)
        self.assertEqual(len(ids), 64)
        self.assertEqual(ids[:len(first.token_ids)], first.token_ids)
        self.assertEqual(list(feats["input_mask"].int64_list.value),
                         [1] * len(first.token_ids) + [0] * (64 - len(first.token_ids)))
        self.assertEqual(list(feats["next_sentence_labels"].int64_list.value),
                         [1 if first.is_random_next else 0])
        self.assertEqual(len(feats["masked_lm_weights"].float_list.value), 10)

    def test_model_garden_pretraining_loader_reads_them(self):
        # A consumer of the original format: tf-models-official's BERT pre-training
        # data loader (the successor of the original run_pretraining.py's input_fn).
        from official.nlp.data import pretrain_dataloader

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "a.tfrecord")
            write_instances(self.instances, path, 64, 10)
            config = pretrain_dataloader.BertPretrainDataConfig(
                input_path=path, global_batch_size=len(self.instances), seq_length=64,
                max_predictions_per_seq=10, use_next_sentence_label=True, is_training=False,
                drop_remainder=False)
            batch = next(iter(pretrain_dataloader.BertPretrainDataLoader(config).load()))
        for k, inst in enumerate(self.instances):
            n = len(inst.token_ids)
            self.assertEqual(batch["input_word_ids"][k, :n].numpy().tolist(), inst.token_ids)
            self.assertEqual(int(batch["input_mask"][k].numpy().sum()), n)
            self.assertEqual(batch["input_type_ids"][k, :n].numpy().tolist(), inst.segment_ids)
            self.assertEqual(int(batch["next_sentence_labels"][k, 0]), int(inst.is_random_next))
            p = len(inst.masked_lm_positions)
            self.assertEqual(batch["masked_lm_ids"][k, :p].numpy().tolist(), inst.masked_lm_ids)

    def test_reads_records_of_the_original_writer(self):
        # tf-models-official's writer is the original tool's (same features, same
        # padding, next_sentence_labels = 1 for a random B), with a v2-names option.
        from official.nlp.data import create_pretraining_data as mg
        from official.nlp.tools import tokenization

        mg_tokenizer = tokenization.FullTokenizer(str(UNCASED_VOCAB), do_lower_case=True)
        tokens = self.tokenizer.get_vocabulary()
        theirs = [mg.TrainingInstance([tokens[i] for i in x.token_ids], x.segment_ids,
                                      x.masked_lm_positions, [tokens[i] for i in x.masked_lm_ids],
                                      x.is_random_next) for x in self.instances]
        with tempfile.TemporaryDirectory() as tmp:
            for v2 in (False, True):
                path = os.path.join(tmp, f"mg{v2}.tfrecord")
                mg.write_instance_to_example_files(theirs, mg_tokenizer, 64, 10, [path], False, v2)
                ds = pretraining_record_dataset(path, batch_size=len(self.instances), shuffle=False,
                                                repeat=False)
                x, y = next(iter(ds))
                for k, inst in enumerate(self.instances):
                    n = len(inst.token_ids)
                    p = len(inst.masked_lm_positions)
                    self.assertEqual(x["token_ids"][k, :n].numpy().tolist(), inst.token_ids)
                    self.assertEqual(x["segment_ids"][k, :n].numpy().tolist(), inst.segment_ids)
                    self.assertEqual(int(x["padding_mask"][k].numpy().sum()), n)
                    self.assertEqual(x["masked_lm_positions"][k, :p].numpy().tolist(), inst.masked_lm_positions)
                    self.assertEqual(y["masked_lm_ids"][k, :p].numpy().tolist(), inst.masked_lm_ids)
                    self.assertEqual(y["masked_lm_weights"][k].numpy().tolist(), [1.0] * p + [0.0] * (10 - p))
                    self.assertEqual(int(y["next_sentence_labels"][k]), int(inst.is_random_next))
                self.assertEqual(x["token_ids"].dtype, tf.int32)

    def test_dataset_position_and_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "a.tfrecord")
            write_instances(self.instances, path, 64, 10)
            full = [b[0]["token_ids"].numpy() for b in pretraining_record_dataset(path, 4, seed=1).take(5)]
            skipped = next(iter(pretraining_record_dataset(path, 4, seed=1, skip_batches=3)))
            np.testing.assert_array_equal(skipped[0]["token_ids"].numpy(), full[3])
            with self.assertRaisesRegex(ValueError, r"a.tfrecord: records have input_ids of length 64"):
                pretraining_record_dataset(path, 4, seq_length=128)
            bad = os.path.join(tmp, "bad.tfrecord")
            with tf.io.TFRecordWriter(bad) as w:
                w.write(tf.train.Example(features=tf.train.Features(feature={
                    "x": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))})).SerializeToString())
            with self.assertRaisesRegex(ValueError, "bad.tfrecord: not a BERT pre-training record"):
                pretraining_record_dataset(bad, 4)
            with self.assertRaisesRegex(FileNotFoundError, "nothing"):
                pretraining_record_dataset(os.path.join(tmp, "nothing*"), 4)
        x, y = next(iter(instances_dataset(self.instances, 3, 64, 10)))
        self.assertEqual(x["token_ids"].shape, (3, 64))
        self.assertEqual(y["next_sentence_labels"].shape, (3,))

    def test_data_tool_one_shard_is_the_original_algorithm(self):
        with tempfile.TemporaryDirectory() as tmp:
            summary = create_pretraining_data([str(SAMPLE_TEXT)], tmp, str(UNCASED_VOCAB),
                                              max_seq_length=64, max_predictions_per_seq=10,
                                              dupe_factor=2, seed=12345, num_workers=1, progress=False)
            self.assertEqual(summary["num_instances"], len(self.instances))
            self.assertEqual(json.load(open(os.path.join(tmp, "pretraining_data.json")))["num_instances"],
                             len(self.instances))
            ds = pretraining_record_dataset(summary["output_files"], batch_size=len(self.instances),
                                            shuffle=False, repeat=False)
            x, _ = next(iter(ds))
            for k, inst in enumerate(self.instances):
                self.assertEqual(x["token_ids"][k, :len(inst.token_ids)].numpy().tolist(), inst.token_ids)
            # Shards by document groups: deterministic, independent of the worker count.
            two = create_pretraining_data([str(SAMPLE_TEXT)], os.path.join(tmp, "two"), str(UNCASED_VOCAB),
                                          max_seq_length=64, dupe_factor=1, num_shards=2,
                                          num_workers=1, progress=False)
            self.assertEqual(len(two["output_files"]), 2)
            self.assertEqual(sum(two["instances_per_shard"]), two["num_instances"])


@pytest.mark.slow
class ParallelDataToolTest(TestCase):
    def test_worker_count_does_not_change_the_records(self):
        wikitext = SHARED_DATA / "pretrain_text" / "wikitext-2" / "wiki.valid.tokens"
        lines = open(wikitext, encoding="utf-8").read().splitlines(keepends=True)
        with tempfile.TemporaryDirectory() as tmp:
            inputs = []
            for k, part in enumerate((lines[:400], lines[400:800])):  # two input files, two shards
                inputs.append(os.path.join(tmp, f"part{k}.txt"))
                with open(inputs[-1], "w", encoding="utf-8") as f:
                    f.writelines(part)
            runs = {}
            for workers in (1, 2):
                out = os.path.join(tmp, f"w{workers}")
                summary = create_pretraining_data(inputs, out, str(UNCASED_VOCAB), max_seq_length=64,
                                                  dupe_factor=2, num_workers=workers, progress=False)
                runs[workers] = [open(p, "rb").read() for p in summary["output_files"]]
            self.assertEqual(len(runs[1]), 2)
            self.assertEqual(runs[1], runs[2])
