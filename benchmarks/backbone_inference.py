"""Backbone inference throughput at fixed shapes: ours against keras-hub, Model Garden, HF.

For each case (size, batch, sequence length) and precision (float32, mixed_bfloat16, and
bfloat16: every implementation with bfloat16 weights) the encoders are built with random
weights and timed on the same random token batch (no padding), forward pass only
(`training=False`), each as one `tf.function`.

Ours is compared with each peer at the same GELU form: with keras-hub's exact GELU
("ours (gelu)" vs keras-hub) and with Model Garden's tanh approximation ("ours" vs Model
Garden). `--xla` adds ours compiled with XLA (`jit_compile=True`). `--int8` adds ours
int8-quantized (`model.quantize("int8")` of the model built in the case's precision: the
encoder's projections on the CPU's int8 units, the rest in that precision, so
mixed_bfloat16 gives int8 projections with bfloat16 between them), compared with ours in
the same precision.

Command (default, ~2 minutes on an idle 2-core machine):
    python benchmarks/backbone_inference.py
Larger runs:
    python benchmarks/backbone_inference.py --long          # adds sequence 512
    python benchmarks/backbone_inference.py --cases base:32:128,large:8:128 --repeats 5 --xla
"""

import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402
from benchmarks.models import (  # noqa: E402
    case_limit, forward_gflop, huggingface_at, huggingface_model, keras_hub_backbone, model_garden_encoder,
    model_garden_inputs, ours_backbone, parse_case, random_inputs,
)

TITLE = "Backbone inference (fixed shapes)"
DEFAULT_CASES = "base:16:128,tiny:16:128"
LONG_CASES = "base:16:512,tiny:16:512"


def build_forward(impl, size, x, precision, jit=False):
    """A zero-argument callable running one forward pass of `impl` on the batch `x`.

    Args:
        impl: `"ours"` (tanh GELU, our default), `"ours (gelu)"` (exact GELU),
            `"ours int8"` (ours in `precision`, then int8-quantized),
            `"keras-hub"`, `"Model Garden"` or `"Hugging Face"`.
        size: a key of `benchmarks.models.SIZES`.
        x: the backbone input dict (numpy).
        precision: `"float32"`, `"mixed_bfloat16"` or `"bfloat16"` (set as the global
            policies while building).
        jit: compile ours with XLA.
    """
    import tensorflow as tf

    common.set_policies(precision)
    try:
        tx = {k: tf.constant(v) for k, v in x.items()}
        if impl in ("ours", "ours (gelu)", "keras-hub", "ours int8"):
            model = (keras_hub_backbone(size) if impl == "keras-hub"
                     else ours_backbone(size, "gelu" if impl == "ours (gelu)" else "gelu_approximate"))
            if impl == "ours int8":
                model.quantize("int8")
            fn = tf.function(lambda inputs: model(inputs, training=False)["sequence_output"], jit_compile=jit)
            return lambda: fn(tx).numpy()
        if impl == "Model Garden":
            encoder = model_garden_encoder(size)
            mg_x = model_garden_inputs(tx)
            mg_fn = tf.function(lambda inputs: encoder(inputs, training=False)["sequence_output"])
            return lambda: mg_fn(mg_x).numpy()
        if impl == "Hugging Face":
            import torch

            model, context = huggingface_at(huggingface_model(size), precision)
            hx = {"input_ids": torch.tensor(x["token_ids"], dtype=torch.long),
                  "token_type_ids": torch.tensor(x["segment_ids"], dtype=torch.long),
                  "attention_mask": torch.tensor(x["padding_mask"], dtype=torch.long)}

            def hf():
                with torch.inference_mode(), context():
                    return model(**hx).last_hidden_state.float().numpy()

            return hf
        raise ValueError(f"Unknown implementation {impl!r}.")
    finally:
        common.set_policies("float32")


def _forwards(size, batch, length, precision, peers, xla, int8=False):
    """name → (callable, name of the peer row it is compared with)."""
    x = random_inputs(batch, length)
    out = {}
    if int8:
        out["ours int8"] = (build_forward("ours int8", size, x, precision), "ours")
        if "model_garden" not in peers:
            out["ours"] = (build_forward("ours", size, x, precision), None)
    if "keras_hub" in peers or "huggingface" in peers:  # both use the exact GELU
        out["ours (gelu)"] = (build_forward("ours (gelu)", size, x, precision),
                              "keras-hub" if "keras_hub" in peers else None)
    if "keras_hub" in peers:
        out["keras-hub"] = (build_forward("keras-hub", size, x, precision), None)
    if "model_garden" in peers:
        out["ours"] = (build_forward("ours", size, x, precision), "Model Garden")
        out["Model Garden"] = (build_forward("Model Garden", size, x, precision), None)
    if xla:
        if "keras_hub" in peers:
            out["ours (gelu) + XLA"] = (build_forward("ours (gelu)", size, x, precision, jit=True), "keras-hub")
        else:
            out["ours + XLA"] = (build_forward("ours", size, x, precision, jit=True), None)
    if "huggingface" in peers:
        out["Hugging Face"] = (build_forward("Hugging Face", size, x, precision), None)
    return out


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--cases", default=DEFAULT_CASES, help="comma-separated size:batch:length")
    parser.add_argument("--long", action="store_true", help=f"also run {LONG_CASES}")
    parser.add_argument("--precisions", default=common.default_precisions(),
                        help="float32 and mixed_bfloat16 where the CPU has bfloat16 instructions")
    parser.add_argument("--peers", default="keras_hub,model_garden,huggingface")
    parser.add_argument("--xla", action="store_true", help="add ours with jit_compile=True")
    parser.add_argument("--int8", action="store_true", help="add ours int8-quantized, against ours")
    parser.add_argument("--min_sample_seconds", type=float, default=1.0,
                        help="repeat fast calls within a sample up to about this long")
    args = parser.parse_args(argv)
    info = common.start(TITLE, args)
    peers = [p for p in args.peers.split(",") if p]
    notes = []
    if "huggingface" in peers:
        available, note = common.huggingface_status()
        notes.append(note)
        if not available:
            peers.remove("huggingface")
    cases = [parse_case(c) for c in args.cases.split(",") if c]
    if args.long:
        cases += [parse_case(c) for c in LONG_CASES.split(",")]
    rows, comparisons = [], []
    for size, batch, length in cases:
        for precision in args.precisions.split(","):
            case = f"{size} b{batch} s{length}"
            print(f"\n{case}, {precision}", flush=True)
            forwards = _forwards(size, batch, length, precision, peers, args.xla, args.int8)
            limit = case_limit(size, batch, length, precision, args.no_gemm)
            timings = common.time_interleaved({k: v[0] for k, v in forwards.items()}, batch,
                                              repeats=args.repeats, warmup=args.warmup,
                                              min_sample_seconds=args.min_sample_seconds)
            by_name = {}
            for name, timing in timings.items():
                row = common.Row(case, name, "int8" if name == "ours int8" else common.short_precision(precision), timing,
                                 peer_of=forwards[name][1] or "", gflop_per_item=forward_gflop(size, length),
                                 limit_gflops=None if name == "ours int8" else limit)
                by_name[name] = row
                rows.append(row)
                print(f"  {name}: {timing.items_per_second:.2f} seq/s, "
                      f"{timing.items_per_cpu_second:.2f} seq/CPU-s", flush=True)
            for name, (_, peer) in forwards.items():
                if peer and peer in by_name:
                    comparisons.append((by_name[name], by_name[peer]))
            if "ours (gelu)" in by_name and "Hugging Face" in by_name:  # both the exact GELU
                comparisons.append((by_name["ours (gelu)"], by_name["Hugging Face"]))
            del forwards, timings
            gc.collect()
    notes.append("share of the limit: the encoder's matmul work (forward_gflop: 22.35 GFLOP a Base "
                 "sequence at 128) done per second, over the best rate any framework here reaches on "
                 "the case's feed-forward matmul shape in the same run (common.matmul_limit)")
    notes.append("ours (gelu) = our BertBackbone with keras-hub's exact GELU; ours = our default "
                 "tanh GELU, as Model Garden's BertEncoder")
    return common.finish(TITLE, info, args, rows, comparisons, "seq", notes)


if __name__ == "__main__":
    main()
