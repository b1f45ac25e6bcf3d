"""Serving under load: the exported raw-text signatures of a classifier, a SQuAD model
and an NER model, called from many threads for a bounded time with real text of mixed
lengths and hostile strings.

The three models (random weights of `--size`; timing and robustness do not depend on
them) are exported with `export_model` and served by a child process that imports only
`tensorflow` and `tensorflow_text`, over HTTP on the loopback interface, with TF
Serving's REST request layout (`POST /v1/models/<name>:predict`, `{"inputs": {...}}`,
byte strings as `{"b64": ...}`). `--clients` threads send requests for `--seconds`:

- classifier (`text`): 1-8 SST-2 dev sentences;
- squad (`question`, `context`): 1-4 SQuAD v1.1 dev questions with their whole
  paragraph, a quarter of them with several paragraphs joined (2,000-6,000 tokens, past
  the 4,096-token bound: `truncated` is set);
- ner (`text`): 1-8 CoNLL-2003 validation sentences, a quarter of them joined into texts
  of several windows;
- and in every tenth request one hostile string in place of a text: empty, only
  whitespace or controls, NUL, lone combining marks, emoji sequences, right-to-left and
  CJK text, literal special tokens, a 100,000-character word, 20,000 words, unassigned
  and private-use code points, and byte strings that are not UTF-8.

Reported after the `--warmup_seconds`: requests/s, p50 and p99 latency per model, errors
(any request that does not come back with the signature's outputs; target 0), and the
server's resident memory after warm-up and at the end with its least-squares trend in
MiB a minute (target: no growth; the resident size swings by hundreds of MiB with the
lengths in flight, so the trend is the figure to read).

Command (~7 minutes on a 2-core machine):
    python benchmarks/serving_soak.py
"""

import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

TITLE = "Serving soak: raw-text signatures of classifier, SQuAD and NER under concurrent load"
MODELS = ("classifier", "squad", "ner")
CONLL_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
HOSTILE = [
    "", " ", "\t\n\r\x0b\x0c", "\x00", "\x00" * 50, "\u200b\u200c\u200d\ufeff" * 20, "\u0301\u0308" * 200,
    "👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 " * 40, "مرحبا بالعالم שלום עולם " * 30, "任正非在深圳创立了華為。" * 60,
    "[CLS] [SEP] [MASK] [PAD] [UNK] ##s " * 30, "a" * 100_000, "word " * 20_000,
    "\U000e0001\U0010fffd\ue000\ufffe\uffff" * 30, "\u0085\u2028\u2029\u00a0\u3000" * 40,
    b"\xff\xfe\xfd", b"\xc3\x28 bad utf-8", b"\xed\xa0\x80 surrogate", bytes(range(256)),
]


# --- the server (child process: tensorflow and tensorflow_text only) ----------------------------
def serve(folder):
    import http.server

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the WordPiece op of the SavedModels)

    signatures = {}
    for name in MODELS:
        versions = sorted(int(v) for v in os.listdir(os.path.join(folder, name)) if v.isdigit())
        signatures[name] = tf.saved_model.load(os.path.join(folder, name, str(versions[-1]))).signatures["serving_default"]

    def decode(value):
        return base64.b64decode(value["b64"]) if isinstance(value, dict) else value.encode("utf-8")

    def encode(value):
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(value).decode("ascii")}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802 (http.server's name)
            name = self.path.removeprefix("/v1/models/").removesuffix(":predict")
            try:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                inputs = {k: tf.constant([decode(v) for v in values]) for k, values in body["inputs"].items()}
                outputs = {k: encode(v.numpy().tolist()) for k, v in signatures[name](**inputs).items()}
                status, reply = 200, {"outputs": outputs}
            except Exception as e:  # noqa: BLE001  (every failure is reported to the client)
                status, reply = 400, {"error": f"{type(e).__name__}: {str(e)[:500]}"}
            data = json.dumps(reply).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    others = sorted({m.split(".")[0] for m in sys.modules} & {"keras_bert_pkg", "keras_hub", "official"})
    print(f"READY {server.server_address[1]} {','.join(others) or '-'}", flush=True)
    server.serve_forever()


# --- the models and the requests -----------------------------------------------------------
def export_models(folder, size):
    from benchmarks import common
    from benchmarks.models import ours_backbone

    import keras_bert_pkg as kb

    tokenizer = kb.BertTokenizer(str(common.require_file(common.UNCASED_VOCAB)))
    classifier = kb.BertClassifier(ours_backbone(size, activation="gelu", dropout=0.0), 2,
                                   kb.BertPreprocessor(tokenizer, 128))
    kb.export_model(classifier, folder, "classifier", labels=["negative", "positive"], token_ids_model=False)
    squad = kb.BertSpanLabeler(ours_backbone(size, activation="gelu", dropout=0.0), kb.BertPreprocessor(tokenizer, 384))
    kb.export_model(squad, folder, "squad", decoding=kb.SpanDecoding(doc_stride=128), token_ids_model=False)
    ner = kb.BertTokenClassifier(ours_backbone(size, activation="gelu", dropout=0.0), len(CONLL_TAGS),
                                 kb.BertPreprocessor(tokenizer, 128))
    kb.export_model(ner, folder, "ner", labels=CONLL_TAGS, token_ids_model=False)


def request_pools(seed):
    """`{model: function(rng) -> inputs dict}` drawing real and hostile texts."""
    from benchmarks import common
    from keras_bert_pkg.data.conll import read_conll
    from keras_bert_pkg.data.glue import read_glue
    from keras_bert_pkg.data.squad_examples import read_squad_examples

    data = common.SHARED_DATA
    sst2 = list(read_glue("sst2", str(data / "glue"), "dev").texts[0])
    squad = read_squad_examples(str(common.require_file(data / "squad" / "v1.1" / "dev.json")))
    contexts = sorted({e.context_text for e in squad})
    conll = [" ".join(s.words) for s in read_conll(str(common.require_file(data / "ner" / "conll2003" / "valid.txt")))]

    def text(rng, pool, join=1):
        if rng.random() < 0.1:
            return rng.choice(HOSTILE)
        if rng.random() < 0.25 and join > 1:
            return " ".join(rng.choice(pool) for _ in range(rng.randint(2, join)))
        return rng.choice(pool)

    def squad_inputs(rng):
        items = [rng.choice(squad) for _ in range(rng.randint(1, 4))]
        questions = [rng.choice(HOSTILE) if rng.random() < 0.05 else e.question_text for e in items]
        paragraphs = [text(rng, contexts, join=40) if rng.random() < 0.3 else e.context_text for e in items]
        return {"question": questions, "context": paragraphs}

    return {
        "classifier": lambda rng: {"text": [text(rng, sst2) for _ in range(rng.randint(1, 8))]},
        "squad": squad_inputs,
        "ner": lambda rng: {"text": [text(rng, conll, join=60) for _ in range(rng.randint(1, 8))]},
    }


def post(port, name, inputs):
    body = {"inputs": {k: [{"b64": base64.b64encode(v).decode("ascii")} if isinstance(v, bytes) else v
                           for v in values] for k, values in inputs.items()}}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{name}:predict",
                                     data=json.dumps(body).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}").get("error", f"HTTP {e.code}")
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    rows = len(next(iter(inputs.values())))
    outputs = reply.get("outputs", {})
    if not outputs or any(len(v) != rows for v in outputs.values()):
        return f"outputs for {rows} inputs expected, got {({k: len(v) for k, v in outputs.items()})}"
    return None


def resident_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] if values else float("nan")


def soak(port, pid, pools, clients, seconds, warmup_seconds, seed):
    """Runs the client threads; returns per-model records and the memory samples."""
    start = time.perf_counter()
    records = []  # (model, start offset, latency, texts, error)
    memory = []  # (offset, MiB)
    lock, stop = threading.Lock(), threading.Event()

    def client(index):
        rng = random.Random(seed * 1000 + index)
        while not stop.is_set():
            name = rng.choice(MODELS)
            inputs = pools[name](rng)
            t = time.perf_counter()
            error = post(port, name, inputs)
            with lock:
                records.append((name, t - start, time.perf_counter() - t, len(next(iter(inputs.values()))), error))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    while time.perf_counter() - start < warmup_seconds + seconds:
        memory.append((time.perf_counter() - start, resident_mib(pid)))
        time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=600)
    return records, memory


def summarize(records, memory, warmup_seconds, seconds):
    counted = [r for r in records if r[1] >= warmup_seconds]
    per_model = {}
    for name in MODELS + ("all",):
        rows = [r for r in counted if name in ("all", r[0])]
        latencies = [r[2] * 1000 for r in rows if r[4] is None]
        errors = [r[4] for r in rows if r[4] is not None]
        per_model[name] = {
            "requests": len(rows), "requests_per_s": round(len(rows) / seconds, 2),
            "texts_per_s": round(sum(r[3] for r in rows) / seconds, 2),
            "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
            "errors": len(errors), "error_examples": sorted(set(errors))[:5],
        }
    after = [m for t, m in memory if t >= warmup_seconds]
    times = [t for t, _ in memory if t >= warmup_seconds]
    head, tail = after[: max(len(after) // 10, 1)], after[-max(len(after) // 10, 1):]
    memory_report = {
        "after_warmup_mib": round(statistics.median(head), 1), "end_mib": round(statistics.median(tail), 1),
        "growth_mib": round(statistics.median(tail) - statistics.median(head), 1),
        "max_mib": round(max(after), 1), "warmup_start_mib": round(memory[0][1], 1),
        "trend_mib_per_min": round(60 * _slope(times, after), 1),
    }
    return per_model, memory_report


def _slope(x, y):
    """Least-squares slope of y over x (0 for fewer than two points)."""
    if len(x) < 2:
        return 0.0
    mx, my = statistics.fmean(x), statistics.fmean(y)
    var = sum((a - mx) ** 2 for a in x)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / var if var else 0.0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--serve"]:  # the serving child process: never imports keras_bert_pkg
        return serve(argv[1])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import common

    parser = common.base_parser(TITLE)  # its --repeats and --warmup do not apply here
    parser.add_argument("--size", default="minilm", help="model size (benchmarks/models.py SIZES)")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--seconds", type=float, default=300, help="measured seconds after the warm-up")
    parser.add_argument("--warmup_seconds", type=float, default=60,
                        help="not counted (30 s is too short for the allocator to settle at MiniLM size)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    info = common.machine_info(measure_gemm=False)
    print(f"## {TITLE}", flush=True)
    folder = tempfile.mkdtemp(prefix="serving_soak_")
    server = None
    try:
        export_models(folder, args.size)
        pools = request_pools(args.seed)
        server = subprocess.Popen([sys.executable, __file__, "--serve", folder], stdout=subprocess.PIPE, text=True)
        ready = server.stdout.readline()
        if not ready.startswith("READY "):
            raise RuntimeError(f"the serving process did not start (exit code {server.poll()}).")
        server_imports = [m for m in ready.split()[2].split(",") if m != "-"]
        records, memory = soak(int(ready.split()[1]), server.pid, pools, args.clients, args.seconds,
                               args.warmup_seconds, args.seed)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)
    per_model, memory_report = summarize(records, memory, args.warmup_seconds, args.seconds)
    info["load_end"] = common.load_average()
    print(f"\n### {TITLE}: results")
    for line in common.machine_lines(info):
        print(line)
    print("server process: tensorflow and tensorflow_text"
          + (f", and {', '.join(server_imports)}" if server_imports else " only (not keras_bert_pkg)"))
    print(f"{args.size} size, {args.clients} client threads, {args.seconds:.0f} s measured after "
          f"{args.warmup_seconds:.0f} s of warm-up\n")
    print("| model | requests | requests/s | texts/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, r in per_model.items():
        print(f"| {name} | {r['requests']} | {r['requests_per_s']} | {r['texts_per_s']} | {r['p50_ms']} | "
              f"{r['p99_ms']} | {r['errors']} |")
    print(f"\nserver memory: {memory_report['warmup_start_mib']} MiB at the start of warm-up, "
          f"{memory_report['after_warmup_mib']} after it, {memory_report['end_mib']} at the end "
          f"(growth {memory_report['growth_mib']:+} MiB, least-squares trend "
          f"{memory_report['trend_mib_per_min']:+} MiB/min, max {memory_report['max_mib']})")
    for name, r in per_model.items():
        for example in r["error_examples"]:
            print(f"- {name} error: {example}")
    report = {"benchmark": TITLE, "argv": sys.argv, "machine": info, "settings": vars(args),
              "models": per_model, "memory": memory_report, "server_imports_besides_tensorflow": server_imports}
    return common.write_report(args, report)


if __name__ == "__main__":
    main()
