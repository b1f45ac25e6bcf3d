"""Exports a saved `.keras` BERT model as TF Serving SavedModels (raw text and token ids).

Writes `<export_dir>/<name>/<version>/` (raw-text `serving_default`, `serve_token_ids`,
`serve_examples`; needs TensorFlow Text's ops) and `<export_dir>/<name>_token_ids/
<version>/` (core TensorFlow ops only), and optionally a `models.config` serving every
model under `export_dir`. See README "Serving with TF Serving".

    python recipes/export.py --model runs/sst2/model.keras --export_name sst2 \
        --labels negative,positive
    python recipes/export.py --model runs/ner/model.keras --export_name ner \
        --labels_file runs/ner/tags.txt --write_models_config
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg as kb  # noqa: E402  (selects the TensorFlow backend)
import keras  # noqa: E402

from keras_bert_pkg.export.models_config import write_models_config  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a .keras file (backbone or task model)")
    p.add_argument("--export_dir", default=os.path.join(PROJECT_ROOT, "savedmodels"))
    p.add_argument("--export_name", default=None, help="model name (default by task)")
    p.add_argument("--version", type=int, default=None, help="default: the next free one")
    p.add_argument("--vocab", default=None,
                   help="vocab.txt, for a model saved without a preprocessor")
    p.add_argument("--max_seq_length", type=int, default=None,
                   help="longest packed input (default: the preprocessor's)")
    p.add_argument("--labels", default=None, help="comma-separated class / tag names")
    p.add_argument("--labels_file", default=None, help="class / tag names, one a line")
    p.add_argument("--text_inputs", default=None,
                   help="comma-separated names of the text inputs (two for sentence pairs)")
    squad = p.add_argument_group("question answering (a BertSpanLabeler)")
    squad.add_argument("--doc_stride", type=int, default=128,
                       help="tokens between the starts of a long context's windows")
    squad.add_argument("--max_query_length", type=int, default=64)
    squad.add_argument("--max_answer_length", type=int, default=30)
    squad.add_argument("--n_best_size", type=int, default=20)
    squad.add_argument("--top_k", type=int, default=1, help="answers per question in top_answers")
    squad.add_argument("--max_context_tokens", type=int, default=4096,
                       help="longer contexts are cut here (the truncated output says so)")
    squad.add_argument("--null_score_diff_threshold", type=float, default=None,
                       help="SQuAD v2.0: answer '' when null score - best span score exceeds it")
    p.add_argument("--no_token_ids_model", action="store_true",
                   help="skip the core-ops-only <name>_token_ids model")
    p.add_argument("--write_models_config", action="store_true",
                   help="also write <export_dir>/models.config for every model there")
    p.add_argument("--models_base_path", default="/models",
                   help="the directory TF Serving sees export_dir as (docker mount)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.exists(args.model):
        sys.exit(f"--model: no such file: {args.model}")
    if args.labels and args.labels_file:
        sys.exit("Give --labels or --labels_file, not both.")
    labels = args.labels.split(",") if args.labels else None
    if args.labels_file:
        with open(args.labels_file, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
    model = keras.models.load_model(args.model)
    decoding = None
    if isinstance(model, kb.BertSpanLabeler):
        decoding = kb.SpanDecoding(
            doc_stride=args.doc_stride, max_query_length=args.max_query_length,
            max_answer_length=args.max_answer_length, n_best_size=args.n_best_size, top_k=args.top_k,
            null_score_diff_threshold=args.null_score_diff_threshold,
            max_context_tokens=args.max_context_tokens)
    result = kb.export_model(
        model, args.export_dir, args.export_name, version=args.version, tokenizer=args.vocab,
        sequence_length=args.max_seq_length, labels=labels,
        text_inputs=args.text_inputs.split(",") if args.text_inputs else None,
        token_ids_model=not args.no_token_ids_model, decoding=decoding)
    report = {"name": result.name, "version": result.version, "path": result.path,
              "token_ids_path": result.token_ids_path, "signatures": result.signatures,
              "non_core_ops": result.non_core_ops}
    if args.write_models_config:
        report["models_config"] = write_models_config(args.export_dir,
                                                      base_path=args.models_base_path)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
