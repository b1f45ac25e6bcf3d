"""Dev-set selection over runs: the paper's random restarts.

On small data sets the paper fine-tuned several times from the same checkpoint with
other seeds (data order, classifier initialisation, dropout) and kept the run with the
best dev score (section 5, appendix A.3). `best_run` does that for any training
function.

Example:
>>> best, runs = best_run(lambda seed: {"score": -abs(seed - 1), "seed": seed}, [0, 1, 2],
...                       log=None)
>>> best["seed"], [run["score"] for run in runs]
(1, [-1, 0, -1])
"""


def best_run(run, seeds, log=print):
    """Runs `run(seed)` for every seed and keeps the result with the best `"score"`.

    Args:
        run: `seed -> dict` with a float `"score"` (higher is better); it should build
            its model afresh (from the same checkpoint) for each seed.
        seeds: the seeds, in order.
        log: where the summary line goes (None for silence).

    Returns: `(best result, every result in seed order)`; on a tie the earlier seed wins.
    """
    results = []
    best = None
    for seed in seeds:
        result = run(seed)
        results.append(result)
        if best is None or result["score"] > best["score"]:
            best = result
    if log is not None and len(results) > 1:
        log("dev score by seed: " + ", ".join(f"{seed}: {r['score']:.4f}" for seed, r in zip(seeds, results))
            + f"; kept seed {seeds[results.index(best)]}")
    return best, results
