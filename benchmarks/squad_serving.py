"""SQuAD questions over whole contexts, raw strings in, answers out: our SavedModel
against Hugging Face's question-answering pipeline.

The first `--questions` SQuAD v1.1 dev questions with their whole paragraphs (raw
strings) are answered with sequence length 384, doc stride 128, questions of at most 64
tokens and answers of at most 30, by two models of the same architecture (MiniLM size
by default, random weights: the timing does not depend on them):

- Ours: a `BertSpanLabeler` exported with `export_model` (doc-stride windows, the
  model and the answer search all inside the SavedModel), loaded with
  `tf.saved_model.load` and called on batches of `--batch_size` questions, as a TF
  Serving client would send them.
- Hugging Face (transformers 4.x; torch and transformers are optional and never a
  dependency): `pipeline("question-answering")` with `BertForQuestionAnswering` and
  the fast tokenizer, the same `doc_stride`, `max_seq_len`, `max_question_len` and
  `max_answer_len`, at each pipeline `batch_size` of `--hf_batch_sizes` (its windows are
  padded per batch; the comparison that counts is against its fastest).

Each runs in float32, and in bfloat16 where the CPU has bfloat16 instructions (ours
exported under the `mixed_bfloat16` policy; Hugging Face under
`torch.autocast("cpu", torch.bfloat16)`), on the CPU threads TensorFlow and PyTorch
choose by default.

Command (~5 minutes on an idle 2-core machine):
    python benchmarks/squad_serving.py
"""

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402
from benchmarks.models import SIZES, huggingface_model, ours_backbone  # noqa: E402

TITLE = "SQuAD v1.1 dev, question + whole context -> answer (raw strings, doc stride 128)"
SEQUENCE_LENGTH, DOC_STRIDE, MAX_QUERY, MAX_ANSWER = 384, 128, 64, 30


def dev_questions(count):
    from keras_bert_pkg.data.squad_examples import read_squad_examples

    examples = read_squad_examples(str(common.require_file(common.SHARED_DATA / "squad" / "v1.1" / "dev.json")))
    examples = examples[:count] if count else examples
    return [e.question_text for e in examples], [e.context_text for e in examples]


def ours_savedmodel(size, folder, precision):
    """Exports a random `BertSpanLabeler` of `size` under the `precision` policy; returns
    its loaded serving function."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the WordPiece op of the SavedModel)

    import keras_bert_pkg as kb

    tokenizer = kb.BertTokenizer(str(common.require_file(common.UNCASED_VOCAB)))
    common.set_policies(precision)
    try:
        model = kb.BertSpanLabeler(ours_backbone(size, activation="gelu", dropout=0.0),
                                   kb.BertPreprocessor(tokenizer, SEQUENCE_LENGTH))
        decoding = kb.SpanDecoding(doc_stride=DOC_STRIDE, max_query_length=MAX_QUERY, max_answer_length=MAX_ANSWER)
        result = kb.export_model(model, folder, f"squad_{precision}", decoding=decoding, token_ids_model=False)
    finally:
        common.set_policies("float32")
    return tf.saved_model.load(result.path).signatures["serving_default"]


def ours_run(serve, questions, contexts, batch_size):
    import tensorflow as tf

    def run():
        answers = []
        for i in range(0, len(questions), batch_size):
            out = serve(question=tf.constant(questions[i:i + batch_size]),
                        context=tf.constant(contexts[i:i + batch_size]))
            answers.extend(out["answer_text"].numpy().tolist())
        return answers

    return run


def huggingface_qa_status():
    """`(available, note)`: torch and a transformers that still has the QA pipeline (< 5)."""
    available, note = common.huggingface_status()
    if available:
        import transformers

        if int(transformers.__version__.split(".")[0]) >= 5:
            return False, (f"Hugging Face skipped: transformers {transformers.__version__} has no "
                           "question-answering pipeline (pip install 'transformers<5')")
    return available, note


def huggingface_run(size, questions, contexts, batch_size, precision):
    import torch
    import transformers

    tokenizer = transformers.BertTokenizerFast(str(common.require_file(common.UNCASED_VOCAB)))
    pipe = transformers.pipeline("question-answering", model=huggingface_model(size, task="span"),
                                 tokenizer=tokenizer, device=-1)

    bf16 = precision != "float32"

    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return pipe(question=questions, context=contexts, doc_stride=DOC_STRIDE,
                        max_seq_len=SEQUENCE_LENGTH, max_question_len=MAX_QUERY,
                        max_answer_len=MAX_ANSWER, batch_size=batch_size)

    return run


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", default="minilm", choices=sorted(SIZES))
    parser.add_argument("--questions", type=int, default=200, help="first N dev questions (0: all 10,570)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--peers", default="huggingface")
    parser.add_argument("--hf_batch_sizes", default="1,8,32", help="Hugging Face pipeline batch sizes timed")
    parser.add_argument("--precisions", default=common.default_precisions(),
                        help="float32 and mixed_bfloat16 where the CPU has bfloat16 instructions")
    args = parser.parse_args(argv)
    info = common.start(TITLE, args)
    questions, contexts = dev_questions(args.questions)
    notes = [f"{len(questions)} questions, {args.size} size ({SIZES[args.size]}), random weights, "
             f"requests of {args.batch_size} questions"]
    peers = [p for p in args.peers.split(",") if p]
    if "huggingface" in peers:
        available, note = huggingface_qa_status()
        notes.append(note)
        if not available:
            peers.remove("huggingface")

    folder = tempfile.mkdtemp(prefix="squad_serving_")
    precisions = args.precisions.split(",")
    candidates, labels = {}, {}
    try:
        for precision in precisions:
            short = common.short_precision(precision)
            serve = ours_savedmodel(args.size, folder, precision)
            candidates[f"ours {short}"] = ours_run(serve, questions, contexts, args.batch_size)
            labels[f"ours {short}"] = ("ours (exported SavedModel, windows in the graph)", short)
            if "huggingface" in peers:
                for batch_size in (int(b) for b in args.hf_batch_sizes.split(",")):
                    name = f"Hugging Face b{batch_size} {short}"
                    candidates[name] = huggingface_run(args.size, questions, contexts, batch_size, precision)
                    labels[name] = (f"Hugging Face question-answering pipeline, batch_size={batch_size}", short)
        windows = sum(int(n) for i in range(0, len(questions), args.batch_size)
                      for n in serve(question=common.tf.constant(questions[i:i + args.batch_size]),
                                     context=common.tf.constant(contexts[i:i + args.batch_size]))["num_windows"])
        notes.append(f"{windows} windows of at most {SEQUENCE_LENGTH} tokens for {len(questions)} questions")
        timings = common.time_interleaved(candidates, {name: len(questions) for name in candidates},
                                          repeats=args.repeats, warmup=args.warmup)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    case = f"SQuAD dev {args.size} b{args.batch_size}"
    rows = {name: common.Row(case, *labels[name], t) for name, t in timings.items()}
    ours = [name for name in rows if name.startswith("ours")]
    peers_rows = [name for name in rows if not name.startswith("ours")]
    comparisons = [(rows[o], rows[p]) for o in ours for p in peers_rows]
    if peers_rows:
        fastest = max(peers_rows, key=lambda name: rows[name].timing.items_per_second)
        best = max(ours, key=lambda name: rows[name].timing.items_per_second)
        notes.append(f"fastest: ours {rows[best].precision} {rows[best].timing.items_per_second:.1f} questions/s, "
                     f"the pipeline {fastest} {rows[fastest].timing.items_per_second:.1f}: "
                     f"{rows[best].timing.items_per_second / rows[fastest].timing.items_per_second:.2f}x")
    return common.finish(TITLE, info, args, list(rows.values()), comparisons, "questions", notes)


if __name__ == "__main__":
    main()
