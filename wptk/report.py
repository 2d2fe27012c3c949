"""The profile of a set of pretraining records (wptk.inspection.Profile.figures) as one self-contained HTML page:
charts drawn with matplotlib (an optional extra: pip install "wptk[report]") and embedded as PNG data URIs."""
import base64
import html
import io

import numpy as np

from wptk.errors import WptkError
from wptk.files import AtomicFile


def write_report(path, figures):
    """Writes the page for `figures` to `path` atomically."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise WptkError('--report draws its charts with matplotlib: pip install "wptk[report]"') from None
    charts = [_length_chart(plt, figures), _masked_chart(plt, figures), _label_chart(plt, figures)]
    with AtomicFile(path, "w") as f:
        f.write(_page(figures, charts))


def _png(plt, fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _length_chart(plt, f):
    fig, ax = plt.subplots(figsize=(7, 3))
    counts = np.asarray(f["length_histogram"])
    ax.bar(np.arange(len(counts)), counts, width=1.0, color="#4472c4")
    ax.set(title=f"Sequence lengths (padding {100 * f['padding_share']:.1f}% of positions)", xlabel="real tokens",
           ylabel="records", xlim=(0, f["max_seq_length"] + 1))
    return _png(plt, fig)


def _masked_chart(plt, f):
    fig, ax = plt.subplots(figsize=(7, 3))
    lengths = np.arange(f["max_seq_length"] + 1)
    records = np.asarray(f["length_histogram"])
    seen = records > 0
    share = np.asarray(f["masked_by_length"])[seen] / (records[seen] * np.maximum(lengths[seen], 1))
    ax.plot(lengths[seen], 100 * share, ".", color="#ed7d31", label="records of this length")
    ax.axhline(100 * f["recipe_masked_lm_prob"], color="black", linestyle=":", label="recipe")
    ax.set(title=f"Masked share of real tokens per length ({100 * f['masked_share']:.2f}% overall; "
                 f"{100 * f['capped_share']:.1f}% of records capped)", xlabel="real tokens", ylabel="masked %",
           ylim=(0, max(30, 100 * share.max(initial=0) + 2)))
    ax.legend()
    return _png(plt, fig)


def _label_chart(plt, f):
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.6))
    share = f["random_next_share"]
    left.bar(["actual next (0)", "random next (1)"], [1 - share, share], color=["#70ad47", "#a5a5a5"])
    left.set(title="Pair labels", ylim=(0, 1))
    split = f["mask_split"]
    right.bar(["[MASK]", "kept", "random"], [split["mask"], split["kept"], split["random"]], color="#5b9bd5")
    right.axhline(0.8, color="black", linestyle=":", linewidth=0.8)
    right.axhline(0.1, color="black", linestyle=":", linewidth=0.8)
    right.set(title="Masked positions: 80/10/10", ylim=(0, 1))
    return _png(plt, fig)


def _page(f, charts):
    rows = [("records", f"{f['records']:,}"), ("files", f"{len(f['files'])}"),
            ("max_seq_length / max_predictions_per_seq", f"{f['max_seq_length']} / {f['max_predictions_per_seq']}"),
            ("mean length", f"{f['mean_length']:.1f}"), ("padding", f"{100 * f['padding_share']:.1f}%"),
            ("masked share of real tokens", f"{100 * f['masked_share']:.2f}%"),
            ("records whose masks max_predictions_per_seq cut short", f"{100 * f['capped_share']:.1f}%"),
            ("random next", f"{100 * f['random_next_share']:.1f}%")]
    if "unk_share" in f:
        rows.append(("[UNK] share of real tokens", f"{100 * f['unk_share']:.3f}%"))
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    images = "".join(f'<p><img src="{c}" alt="chart"></p>' for c in charts)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>wptk inspect</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}th{text-align:left;"
            "padding-right:2em;font-weight:normal}</style></head>\n"
            f"<body><h1>Pretraining records</h1><table>{table}</table>{images}</body></html>\n")
