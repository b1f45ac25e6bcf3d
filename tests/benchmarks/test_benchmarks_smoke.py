"""Each benchmark's `main` at its smallest settings: it runs, times ours and the peers,
and its report holds what the docs table is built from."""

import json
import tempfile
from pathlib import Path

import pytest

from tests.test_case import TestCase, requires_shared_data

QUICK = ["--repeats", "1", "--warmup", "1", "--no_gemm"]


class BenchmarksSmokeTest(TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp())

    def _run(self, module, *args):
        report_path = self.tmp / "report.json"
        report = module.main(list(args) + QUICK + ["--json", str(report_path)])
        self.assertEqual(json.loads(report_path.read_text())["benchmark"], report["benchmark"])
        return report

    def _implementations(self, report):
        return {r["implementation"] for r in report["rows"]}

    def _assert_timed(self, report):
        for row in report["rows"]:
            self.assertGreater(row["items_per_s"], 0, row)
            self.assertGreater(row["items_per_cpu_s"], 0, row)
        for c in report["comparisons"]:
            self.assertGreater(c["ratio_wall"], 0, c)

    def test_backbone_inference(self):
        from benchmarks import backbone_inference

        report = self._run(backbone_inference, "--cases", "tiny:2:16", "--precisions", "float32",
                           "--min_sample_seconds", "0")
        from benchmarks import common

        huggingface = common.huggingface_status()[0]  # the optional peer, when torch is installed
        self.assertEqual(self._implementations(report), {"ours", "ours (gelu)", "keras-hub", "Model Garden"}
                         | ({"Hugging Face"} if huggingface else set()))
        self.assertEqual({(c["ours"], c["peer"]) for c in report["comparisons"]},
                         {("ours (gelu) fp32", "keras-hub fp32"), ("ours fp32", "Model Garden fp32")}
                         | ({("ours (gelu) fp32", "Hugging Face fp32")} if huggingface else set()))
        self.assertTrue(any("Hugging Face" in n for n in report["notes"]))
        self.assertEqual(len(report["machine"]["load_start"]), 3)
        self._assert_timed(report)

    def test_backbone_inference_int8(self):
        from benchmarks import backbone_inference

        report = self._run(backbone_inference, "--cases", "tiny:2:16", "--precisions", "float32",
                           "--peers", "", "--int8", "--min_sample_seconds", "0")
        self.assertEqual(self._implementations(report), {"ours", "ours int8"})
        self.assertEqual({(c["ours"], c["peer"]) for c in report["comparisons"]}, {("ours int8 int8", "ours fp32")})
        self._assert_timed(report)

    def test_limit_and_share_of_it(self):
        """The limit is the best framework's rate at the shape; a row's share is its matmul
        work per second over that limit."""
        from benchmarks import common
        from benchmarks.models import forward_gflop

        limit = common.matmul_limit("float32", 64, 32, 48, repeats=1)
        self.assertGreater(limit["tensorflow"], 0)
        self.assertEqual(limit["best"], max(r for r in (limit["tensorflow"], limit["torch"]) if r))
        self.assertAlmostEqual(forward_gflop("base", 128), 22.35, places=2)
        timing = common.Timing("ours", items=16, calls=1, wall=[2.0], cpu=[4.0])
        row = common.Row("base b16 s128", "ours", "bf16", timing, gflop_per_item=22.35, limit_gflops=357.6)
        self.assertAlmostEqual(row.share_of_limit(), 8 * 22.35 / 357.6)
        self.assertAlmostEqual(row.to_dict()["share_of_limit"], 0.5, places=3)
        self.assertIn("50% of 358 GFLOP/s", common.format_table([row], "seq", []))
        self.assertIsNone(common.Row("c", "peer", "fp32", timing).share_of_limit())

    def test_profile_step(self):
        """Op time by kind from TensorFlow's profiler, and oneDNN's kernels from a verbose child."""
        from benchmarks import profile_step

        report = self._run(profile_step, "--case", "tiny:2:16", "--calls", "1", "--precision", "float32")
        self.assertGreater(report["kind_ms_per_call"]["matmul"], 0)
        self.assertNotIn("Process", report["op_ms_per_call"])  # executor events are not ops
        self.assertTrue(any(name.startswith(("matmul", "inner_product")) for name in report["onednn"]))
        self.assertGreater(report["matmul_gflops"], 0)

    def test_profile_step_pretrain_phases(self):
        """A pre-training step splits into forward, backward and the update after the last
        gradient: matmuls in the first two, the update's kernels after."""
        from benchmarks import profile_step

        report = self._run(profile_step, "--task", "pretrain", "--case", "tiny:2:64", "--calls", "1",
                           "--precision", "float32", "--no_onednn")
        phases = report["phases_ms"]
        self.assertEqual(list(phases), ["forward", "backward", "after"])
        self.assertGreater(phases["forward"].get("matmul", 0), 0)
        self.assertGreater(phases["backward"].get("matmul", 0), 0)
        self.assertEqual(phases["after"].get("matmul", 0), 0)
        self.assertGreater(phases["after"].get("optimizer", 0), 0)
        # the weight decay's assignments need no gradient and may run earlier; Adam cannot
        self.assertGreater(phases["after"]["optimizer"],
                           phases["forward"].get("optimizer", 0) + phases["backward"].get("optimizer", 0))

    def test_profile_step_int8(self):
        """The int8 forward's profile shows the activations' quantization as its own kind."""
        from benchmarks import profile_step
        from keras_bert_pkg.layers.int8_matmul import int8_matmul_available

        if not int8_matmul_available():
            self.skipTest("no oneDNN int8 kernel in this TensorFlow")
        report = self._run(profile_step, "--case", "tiny:2:16", "--calls", "1", "--precision", "int8",
                           "--no_onednn")
        self.assertGreater(report["kind_ms_per_call"].get("quantize", 0), 0)
        self.assertTrue(any("QuantizedMatMul" in op for op in report["op_ms_per_call"]))

    @requires_shared_data
    def test_text_to_predictions(self):
        from benchmarks import text_to_predictions

        report = self._run(text_to_predictions, "--max_sentences", "12", "--peer_sentences", "4",
                           "--batch_size", "4", "--precisions", "float32", "--peers", "keras_hub")
        self.assertEqual(self._implementations(report),
                         {"ours (length-bucketed)", "keras-hub defaults (pad to 512)"})
        # Length bucketing computes the same logits as padding every sentence to 512.
        self.assertLess(report["bucketing_check_max_abs_diff"], 1e-4)
        self._assert_timed(report)

    @requires_shared_data
    def test_squad_serving(self):
        from benchmarks import squad_serving

        report = self._run(squad_serving, "--size", "tiny", "--questions", "6", "--batch_size", "3",
                           "--precisions", "float32", "--hf_batch_sizes", "2")
        huggingface = squad_serving.huggingface_qa_status()[0]
        self.assertEqual({(r["implementation"], r["precision"]) for r in report["rows"]},
                         {("ours (exported SavedModel, windows in the graph)", "fp32")}
                         | ({("Hugging Face question-answering pipeline, batch_size=2", "fp32")} if huggingface
                            else set()))
        self.assertTrue(any("windows of at most 384 tokens for 6 questions" in n for n in report["notes"]))
        self._assert_timed(report)

    @requires_shared_data
    def test_serving_soak(self):
        from benchmarks import serving_soak

        report = serving_soak.main(["--size", "tiny", "--clients", "3", "--seconds", "4", "--warmup_seconds", "4",
                                    "--json", str(self.tmp / "soak.json")])
        written = json.loads((self.tmp / "soak.json").read_text())["models"]
        # (as JSON text: a model that got no request in a busy 4 s has NaN latencies, and NaN != NaN)
        self.assertEqual(json.dumps(written, sort_keys=True), json.dumps(report["models"], sort_keys=True))
        self.assertEqual(set(report["models"]), {"classifier", "squad", "ner", "all"})
        self.assertGreater(report["models"]["all"]["requests"], 0)
        self.assertEqual(report["models"]["all"]["errors"], 0, report["models"])
        self.assertGreater(report["memory"]["after_warmup_mib"], 0)
        self.assertEqual(report["server_imports_besides_tensorflow"], [])

    def test_gpu_throughput(self):
        """The GPU script's path (mixed_float16, XLA, a child process per measurement) at tiny
        sizes on the CPU, so that a lent GPU's minutes go to measuring; without a GPU it stops
        unless told to time the CPU."""
        from benchmarks import gpu_throughput

        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            with self.assertRaises(SystemExit):
                gpu_throughput.main(["--no_gemm"])
        report = self._run(gpu_throughput, "--pretrain_case", "tiny:2:16", "--predictions", "3",
                           "--inference_case", "tiny:2:16", "--peers", "", "--min_sample_seconds", "0",
                           "--allow_cpu")
        self.assertEqual({(r["implementation"], r["precision"]) for r in report["rows"]}, {("ours + XLA", "fp16")})
        self.assertEqual([(b["job"], b["case"]) for b in report["beside_nvidia"]],
                         [("pretrain", "pretrain tiny b2 s16 p3"), ("inference", "inference tiny b2 s16")])
        for row, beside in zip(report["rows"], report["beside_nvidia"]):
            self.assertAlmostEqual(beside["ratio"], row["items_per_s"] / beside["nvidia_a100_seq_per_s"], places=2)
        self._assert_timed(report)

    def test_run_in_child_kills_a_child_past_its_timeout(self):
        from benchmarks import common

        script = self.tmp / "sleeper.py"
        script.write_text("import time\ntime.sleep(30)\n")
        self.assertEqual(common.run_in_child(script, {}, timeout=1), {"failed": "killed after 1 s"})

    def test_gpu_throughput_halves_a_batch_that_does_not_fit(self):
        from benchmarks.gpu_throughput import largest_fitting_batch

        tried = []

        def run(batch):
            tried.append(batch)
            return {"failed": "ResourceExhaustedError: OOM when allocating tensor"} if batch > 100 else {"items": batch}

        self.assertEqual(largest_fitting_batch(run, 312), (78, {"items": 78}))
        self.assertEqual(tried, [312, 156, 78])
        # the child's own verdict counts, whatever the text
        self.assertEqual(largest_fitting_batch(
            lambda b: {"failed": "InternalError: x", "out_of_memory": True} if b > 2 else {"items": b}, 8),
            (2, {"items": 2}))
        # another failure is reported as it is, not retried at a smaller batch
        self.assertEqual(largest_fitting_batch(lambda b: {"failed": "ValueError: bad case"}, 8),
                         (8, {"failed": "ValueError: bad case"}))
        self.assertEqual(largest_fitting_batch(lambda b: {"failed": "OOM"}, 1), (1, {"failed": "OOM"}))

    def test_gpu_throughput_falls_back_and_compares_at_one_batch(self):
        """What the parent does with its children's answers (the children faked): ours without
        XLA when XLA fails other than by memory, Model Garden halved past ours' batch and then
        left uncompared."""
        from unittest import mock

        from benchmarks import gpu_throughput

        specs = []

        def child(script, spec, timeout):
            self.assertEqual(timeout, 900)
            specs.append(spec)
            batch = int(spec["case"].split(":")[1])
            if spec["impl"] == "ours" and spec["job"] == "pretrain" and spec["xla"]:
                return {"failed": "InternalError: ptxas not found", "out_of_memory": False}
            if spec["impl"] == "Model Garden" and batch > 4:
                return {"failed": "ResourceExhaustedError: OOM when allocating tensor", "out_of_memory": True}
            return {"items": batch, "calls": 1, "wall": [0.5], "cpu": [1.0]}

        with mock.patch.object(gpu_throughput.common, "run_in_child", child):
            report = self._run(gpu_throughput, "--pretrain_case", "tiny:8:16", "--inference_case", "tiny:2:16",
                               "--allow_cpu")
        self.assertEqual([(s["job"], s["impl"], s["case"], s["xla"]) for s in specs], [
            ("pretrain", "ours", "tiny:8:16", True), ("pretrain", "ours", "tiny:8:16", False),
            ("pretrain", "Model Garden", "tiny:8:16", False), ("pretrain", "Model Garden", "tiny:4:16", False),
            ("inference", "ours", "tiny:2:16", True)])
        self.assertEqual([(r["case"], r["implementation"]) for r in report["rows"]], [
            ("pretrain tiny b8 s16 p20", "ours"), ("pretrain tiny b4 s16 p20", "Model Garden"),
            ("inference tiny b2 s16", "ours + XLA")])
        self.assertEqual(report["comparisons"], [])
        self.assertTrue(any("timed without XLA" in n for n in report["notes"]))
        self.assertTrue(any("not compared" in n for n in report["notes"]))
        self.assertEqual([b["ratio"] for b in report["beside_nvidia"]], [round(16 / 485.59, 3), round(4 / 1786.25, 3)])

    @pytest.mark.slow
    def test_training_step(self):
        from benchmarks import training_step

        report = self._run(training_step, "--case", "tiny:2:16", "--predictions", "3", "--tasks", "pretrain",
                           "--precisions", "float32", "--min_sample_seconds", "0")
        self.assertEqual(self._implementations(report), {"ours", "Model Garden", "keras-hub (MLM only)"})
        self._assert_timed(report)

    @requires_shared_data
    def test_tokenizer_throughput(self):
        from benchmarks import tokenizer_throughput

        report = self._run(tokenizer_throughput, "--max_texts", "8", "--min_sample_seconds", "0")
        self.assertIn("ours", self._implementations(report))
        self.assertIn("keras-hub", self._implementations(report))
        self.assertEqual({r["case"] for r in report["rows"]}, {"SST-2 dev sentences", "SQuAD v1.1 dev contexts"})
        self._assert_timed(report)

    @requires_shared_data
    def test_pretraining_data(self):
        from benchmarks import pretraining_data

        report = self._run(pretraining_data, "--max_documents", "2", "--dupe_factor", "1", "--workers", "1")
        counts = {r["implementation"]: r["items_per_call"] for r in report["rows"]}
        self.assertEqual(set(counts), {"ours (1 worker)", "Model Garden"})
        # One shard, the same seed: the original algorithm gives the same instances.
        self.assertEqual(counts["ours (1 worker)"], counts["Model Garden"])
        self.assertGreater(counts["Model Garden"], 0)
        self._assert_timed(report)

    @pytest.mark.slow
    def test_peak_memory(self):
        from benchmarks import peak_memory

        report = self._run(peak_memory, "--workloads", "inference", "--inference_case", "tiny:2:16",
                           "--precisions", "float32", "--impls", "ours", "--steps", "1")
        (result,) = report["results"]
        self.assertGreater(result["peak_mb"], result["baseline_mb"])
        self.assertGreaterEqual(result["peak_mb"], result["steady_peak_mb"])

    @pytest.mark.slow
    def test_quantization(self):
        from benchmarks import quantization

        report = self._run(quantization, "--model", str(self.tmp / "clf.keras"), "--train_examples", "32",
                           "--dev_examples", "32", "--variants", "fp32,int8")
        self.assertEqual(set(report["metrics"]), {"fp32", "int8"})
        for metrics in report["metrics"].values():
            self.assertTrue(0.0 <= metrics["accuracy"] <= 100.0)
        self.assertTrue((self.tmp / "clf.keras").exists())
        report = self._run(quantization, "--task", "mrpc", "--model", str(self.tmp / "mrpc.keras"),
                           "--train_examples", "32", "--epochs", "1", "--dev_examples", "24",
                           "--variants", "fp32,int8 (bf16 model)")
        self.assertEqual(set(report["metrics"]["int8 (bf16 model)"]), {"accuracy", "f1"})

    @pytest.mark.slow
    def test_quantization_squad(self):
        from benchmarks import common, quantization
        from keras_bert_pkg import BertBackbone, BertSpanLabeler

        model = BertSpanLabeler(BertBackbone.from_preset(str(common.MINILM_DIR)))
        model.save(self.tmp / "span.keras")
        report = self._run(quantization, "--task", "squad", "--model", str(self.tmp / "span.keras"),
                           "--dev_examples", "6", "--variants", "fp32,int8")
        for metrics in report["metrics"].values():
            self.assertEqual(set(metrics), {"exact_match", "f1"})
            self.assertTrue(0.0 <= metrics["f1"] <= 100.0)
