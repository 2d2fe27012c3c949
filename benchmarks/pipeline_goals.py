"""The goals of benchmarks/bench_pipeline.py, judged from the rows of its measured runs, and the labels of those rows
(a module of that script, imported as a sibling as common.py is)."""
import functools
import os

GOAL_SCALING, GOAL_RSS, GOAL_VS_WPTK, GOAL_VS_REF = 1.8, 1.10, 0.5, 50.0
TINY_MB = 0.05          # the input of the fixed-cost runs
ENGINES = {"processes": "multi_processing", "threads": "multi_threading"}


def pipeline_label(engine, size, workers, buckets):
    return f"pipeline {engine} {size:g}MB {workers}w {buckets} buckets"


def fixed_label(engine, workers, buckets):
    return f"fixed cost {engine} {workers}w {buckets} buckets ({TINY_MB:g} MB input)"


def print_goals(args, rows, input_mb, buckets_of, failures):
    """The goals; returns the exit status: 1 if two pipeline runs on one input wrote different bytes."""
    print("\ngoals:")

    def verdict(ok):
        if not ok:
            failures.append("goal")
        return "PASS" if ok else "FAIL"

    def rate(label):
        row = rows.get(label)
        return row["mb"] / row["wall"] if row else None

    sizes = sorted(args.sizes)
    exit_code = 0
    for size in sizes:      # every pipeline run on an input wrote the same bytes: workers and engines alike
        found = {label: rows[label].get("digest") for label in rows if label.startswith("pipeline ")
                 and f" {size:g}MB " in label}
        if len(set(found.values())) > 1:
            exit_code = 1
        print(f"  outputs of all {len(found)} pipeline configurations on {size:g} MB byte-identical: "
              f"{'yes' if len(set(found.values())) == 1 else 'NO'}")
    ref_rate = rate("reference")
    for engine in args.engines:
        print(f"  [{engine}: --direct_running_mode={ENGINES[engine]}]")
        label = functools.partial(pipeline_label, engine)
        engine_goals(engine, label, rows, sizes, buckets_of, input_mb, rate, verdict)
        engine_per_core(engine, label, rows, sizes, buckets_of, rate, ref_rate, verdict, args.skip_reference)
    if ref_rate:
        for size in sizes:
            wptk_rate = rate(f"wptk {size:g}MB")
            if wptk_rate:
                print(f"  for scale: wptk create-pretraining-data itself ({size:g} MB, one core) {wptk_rate:.2f} "
                      f"MB/s = {wptk_rate / ref_rate:.0f}x the reference")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return exit_code


def engine_goals(engine, label, rows, sizes, buckets_of, input_mb, rate, verdict):
    """The scaling and memory goals of one engine."""
    small, big = sizes[0], sizes[-1]
    one, two = (label(big, w, buckets_of[big]) for w in (1, 2))
    r1, r2 = rate(one), rate(two)
    if r1 and r2:
        print(f"  scaling ({big:g} MB): 2 workers {r2:.2f} MB/s / 1 worker {r1:.2f} MB/s = {r2 / r1:.3f}x "
              f"(goal >= {GOAL_SCALING}x): {verdict(r2 / r1 >= GOAL_SCALING)}")
        print(f"    cpu seconds 1 worker {rows[one]['cpu']:.1f}, 2 workers {rows[two]['cpu']:.1f}; wall 1 worker "
              f"{rows[one]['wall']:.1f} s, 2 workers {rows[two]['wall']:.1f} s")
        whole, pair_row = rows.get(f"wptk {big:g}MB"), rows.get("wptk pair")
        if whole and pair_row:
            ceiling = whole["wall"] / pair_row["wall"]
            print(f"    this machine's own ceiling: 2 wptk processes on the halves / 1 on the whole = {ceiling:.2f}x; "
                  f"the pipeline reaches {r2 / r1 / ceiling:.0%} of it")
        small_one, small_two = rows.get(label(small, 1, buckets_of[small])), rows.get(label(small, 2, buckets_of[small]))
        if small_one and small_two and small != big and min(rows[one]["wall"] - small_one["wall"],
                                                            rows[two]["wall"] - small_two["wall"]) > 0:
            d1, d2 = rows[one]["wall"] - small_one["wall"], rows[two]["wall"] - small_two["wall"]
            mb = input_mb[big] - input_mb[small]
            print(f"    marginal throughput, start/stop costs excluded ({big:g} MB run - {small:g} MB run): 1 worker "
                  f"{mb / d1:.2f} MB/s, 2 workers {mb / d2:.2f} MB/s = {d1 / d2:.2f}x (not a goal)")
            print(f"    fixed cost per run (start, worker start/stop, summary): 1 worker "
                  f"{small_one['wall'] - input_mb[small] * d1 / mb:.1f} s, 2 workers "
                  f"{small_two['wall'] - input_mb[small] * d2 / mb:.1f} s")
    small_row, big_row = rows.get(label(small, 2, buckets_of[small])), rows.get(two)
    if small_row and big_row and small != big:
        if engine == "threads":
            a, b = small_row["memory"]["driver"], big_row["memory"]["driver"]
            what = "process (both worker threads)"
        else:
            a, b = max(small_row["memory"]["workers"] or [0]), max(big_row["memory"]["workers"] or [0])
            what = "worker"
        if not (a and b):
            print(f"  {what} peak RSS: no {what} process was measured: cannot judge the memory goal")
            return
        print(f"  {what} peak RSS {big:g} MB ({buckets_of[big]} buckets) / {small:g} MB ({buckets_of[small]} "
              f"buckets): {b / 2**20:.0f} / {a / 2**20:.0f} MiB = {b / a:.3f} (goal <= {GOAL_RSS:.2f}): "
              f"{verdict(b / a <= GOAL_RSS)}")
        if engine != "threads":
            da, db = small_row["memory"]["driver"], big_row["memory"]["driver"]
            print(f"    driver (FnApiRunner; only spill-file references go through its shuffle) peak RSS "
                  f"{db / 2**20:.0f} / {da / 2**20:.0f} MiB = {db / da:.3f} (not a goal)")


def least_two_worker_wall(engine, rows, size, buckets):
    """(seconds, fixed cost, work): the least wall time 2 workers can take on `size`. They pay the 2-worker fixed
    cost (the job on the tiny input) and share, perfectly, at least the work wptk create-pretraining-data does on
    that input (its run less its run on the tiny input). None if a run is missing."""
    fixed, cli = rows.get(fixed_label(engine, 2, buckets)), rows.get(f"wptk {size:g}MB")
    cli_tiny = rows.get("wptk tiny")
    if not (fixed and cli and cli_tiny):
        return None
    work = max(0.0, cli["wall"] - cli_tiny["wall"])
    return fixed["wall"] + work / 2, fixed["wall"], work


def reach(ok, beaten):
    text = "within reach" if ok else "OUT OF REACH on this machine"
    return text + (" (the run itself did better: the fixed cost varies from run to run)" if beaten else "")


def engine_per_core(engine, label, rows, sizes, buckets_of, rate, ref_rate, verdict, skip_reference):
    """The per-core goals of one engine: against wptk create-pretraining-data and against the reference, each
    with the bound that the engine's fixed cost and wptk's own work put on it (least_two_worker_wall)."""
    per_core, best_per_core = {}, {}
    for size in sizes:
        pipeline_rate, wptk_rate = rate(label(size, 2, buckets_of[size])), rate(f"wptk {size:g}MB")
        least = least_two_worker_wall(engine, rows, size, buckets_of[size])
        if least:
            best_per_core[size] = rows[f"wptk {size:g}MB"]["mb"] / least[0] / 2
        if pipeline_rate and wptk_rate:
            per_core[size] = pipeline_rate / 2
            ratio = per_core[size] / wptk_rate
            print(f"  per core vs wptk create-pretraining-data ({size:g} MB): pipeline {pipeline_rate:.2f} MB/s / 2 "
                  f"cores = {per_core[size]:.2f} MB/s per core / wptk {wptk_rate:.2f} MB/s = {ratio:.3f} "
                  f"(goal >= {GOAL_VS_WPTK}): {verdict(ratio >= GOAL_VS_WPTK)}")
            if least:
                bound = best_per_core[size] / wptk_rate
                print(f"    bound: 2 workers take at least the fixed cost ({least[1]:.1f} s, {TINY_MB:g} MB input, "
                      f"{buckets_of[size]} buckets) + half of wptk's own work ({least[2]:.1f} s / 2) = "
                      f"{least[0]:.1f} s: at most {bound:.3f}, {reach(bound >= GOAL_VS_WPTK, ratio > bound)}")
    for size, value in per_core.items():
        if ref_rate:
            print(f"  per core vs reference ({size:g} MB): pipeline {value:.2f} MB/s per core / reference "
                  f"(corpus sample) {ref_rate:.3f} MB/s = {value / ref_rate:.1f}x "
                  f"(goal >= {GOAL_VS_REF:.0f}x): {verdict(value / ref_rate >= GOAL_VS_REF)}")
            if size in best_per_core:
                bound = best_per_core[size] / ref_rate
                print(f"    bound (as above): at most {bound:.1f}x, "
                      f"{reach(bound >= GOAL_VS_REF, value / ref_rate > bound)}")
    if per_core and not ref_rate and not skip_reference:
        print("  per core vs reference: not measured (the reference did not run)")
