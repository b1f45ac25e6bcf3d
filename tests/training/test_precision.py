"""Mixed precision that follows the device, including CPUs without bfloat16."""

from unittest import mock

import keras
import tensorflow as tf

from keras_bert_pkg.training.precision import cpu_has_bfloat16, resolve_precision, set_precision
from tests.test_case import TestCase

# Flag lines as /proc/cpuinfo prints them (abridged): an AVX2-only EPYC, a Zen 4 EPYC with
# AVX512-BF16, a Sapphire Rapids Xeon with AMX, and an Arm Neoverse V1 (Features line).
AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu vme sse sse2 avx avx2 fma bmi2 sha_ni\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_tile amx_int8 amx_bf16\n"
NEOVERSE_V1 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes sha2 crc32 sve asimddp bf16 i8mm\n"
GRAVITON2 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics\n"


class MixedPrecisionTest(TestCase):
    def cpuinfo(self, text):
        path = self.get_temp_dir() + "/cpuinfo"
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_cpu_bfloat16_detection(self):
        self.assertFalse(cpu_has_bfloat16(self.cpuinfo(AVX2_ONLY)))
        self.assertTrue(cpu_has_bfloat16(self.cpuinfo(ZEN4)))
        self.assertTrue(cpu_has_bfloat16(self.cpuinfo(SAPPHIRE_RAPIDS)))
        self.assertTrue(cpu_has_bfloat16(self.cpuinfo(NEOVERSE_V1)))
        self.assertFalse(cpu_has_bfloat16(self.cpuinfo(GRAVITON2)))
        self.assertIsNone(cpu_has_bfloat16(self.cpuinfo("processor\t: 0\n")))

    def test_this_machine(self):
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith(("flags", "Features"))).split()
        self.assertEqual(cpu_has_bfloat16(), any(f in flags for f in ("avx512_bf16", "amx_bf16", "bf16")))

    def test_policy_by_device(self):
        self.assertEqual(resolve_precision("mixed", "GPU", self.cpuinfo(AVX2_ONLY)), "mixed_float16")
        self.assertEqual(resolve_precision("mixed", "TPU", self.cpuinfo(AVX2_ONLY)), "mixed_bfloat16")
        self.assertEqual(resolve_precision("mixed", "CPU", self.cpuinfo(ZEN4)), "mixed_bfloat16")
        with self.assertLogs("keras_bert_pkg", "WARNING") as logs:
            self.assertEqual(resolve_precision("mixed", "CPU", self.cpuinfo(AVX2_ONLY)), "float32")
        self.assertIn("no bfloat16 instructions", logs.output[0])
        # Unknown CPU: bfloat16, as before this check existed.
        self.assertEqual(resolve_precision("mixed", "CPU", self.get_temp_dir() + "/missing"),
                         "mixed_bfloat16")

    def test_other_names_and_devices(self):
        self.assertEqual(resolve_precision(None), "float32")
        self.assertEqual(resolve_precision("mixed_bfloat16", "CPU", self.cpuinfo(AVX2_ONLY)),
                         "mixed_bfloat16")  # forced
        self.assertEqual(resolve_precision("mixed", tf.distribute.get_strategy(), self.cpuinfo(ZEN4)),
                         "mixed_bfloat16")  # a strategy: its replicas' device
        with mock.patch.object(tf.config, "list_logical_devices", return_value=["gpu"]):
            self.assertEqual(resolve_precision("mixed"), "mixed_float16")  # the default device
        with self.assertRaisesRegex(ValueError, "'mixed_float16' on a TPU"):
            resolve_precision("mixed_float16", "TPU")

    def test_set_precision(self):
        try:
            expected = "mixed_bfloat16" if cpu_has_bfloat16() is not False else "float32"
            self.assertEqual(set_precision("mixed"), expected)
            self.assertEqual(keras.config.dtype_policy().name, expected)
            self.assertEqual(set_precision("mixed_bfloat16"), "mixed_bfloat16")  # forced
            with self.assertRaisesRegex(ValueError, "Unknown precision 'fp8'"):
                set_precision("fp8")
        finally:
            keras.config.set_dtype_policy("float32")
