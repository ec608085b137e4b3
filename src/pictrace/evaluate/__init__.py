"""Evaluation toolkit: attacked query sets, their answer keys, and copy-detection metrics.

Used by ``pictrace eval`` and by the benchmarks::

    cases = build_attacked_set(photos, out, ["crop_small", "overlay"], 20, negatives, 40, seed=0)
    outcomes = [QueryOutcome(str(c.query), frozenset({c.expected} - {None}), ranked, c.family)
                for c, ranked in zip(cases, results)]
    print(report_markdown(evaluate(outcomes)))
"""

from pictrace.evaluate.attacks import ATTACKS, FAMILIES, Combo, Overlay, build_attacks, crop_box
from pictrace.evaluate.canvas import MAX_SIDE, Attack, load_rgb
from pictrace.evaluate.dataset import (
    QueryCase,
    build_attacked_set,
    load_cases,
    load_folder_cases,
    query_rng,
    source_id,
    write_cases,
)
from pictrace.evaluate.metrics import (
    Latency,
    OperatingPoint,
    QueryOutcome,
    ReliabilityBin,
    Report,
    Summary,
    evaluate,
    expected_calibration_error,
    latency,
    micro_average_precision,
    pooled_pairs,
    recall_at_k,
    recall_at_precision,
    reliability_markdown,
    reliability_table,
    report_markdown,
    summarise,
)
from pictrace.evaluate.overlays import overlay_on, synthetic_background
from pictrace.evaluate.run import (
    EvalRun,
    decode_and_embed,
    run_cases,
    source_key,
    unknown_expected,
)

__all__ = [
    "ATTACKS",
    "FAMILIES",
    "MAX_SIDE",
    "Attack",
    "Combo",
    "EvalRun",
    "Latency",
    "OperatingPoint",
    "Overlay",
    "QueryCase",
    "QueryOutcome",
    "ReliabilityBin",
    "Report",
    "Summary",
    "build_attacked_set",
    "build_attacks",
    "crop_box",
    "decode_and_embed",
    "evaluate",
    "expected_calibration_error",
    "latency",
    "load_cases",
    "load_folder_cases",
    "load_rgb",
    "micro_average_precision",
    "overlay_on",
    "pooled_pairs",
    "query_rng",
    "recall_at_k",
    "recall_at_precision",
    "reliability_markdown",
    "reliability_table",
    "report_markdown",
    "run_cases",
    "source_id",
    "source_key",
    "summarise",
    "synthetic_background",
    "unknown_expected",
    "write_cases",
]
