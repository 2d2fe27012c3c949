"""What a run's instances hold, against the recipe its flags ask for: counts, shares, and warnings naming the fix.

The command counts one corpus, the Beam pipeline sums the counts of its buckets; both then call `figures` and
`warnings` on the counts, so the two report alike.
"""
import numpy as np

MASKED_WARN_RATIO = 0.8         # warn when the masked share is below this part of masked_lm_prob ...
CAPPED_WARN_SHARE = 0.05        # ... because max_predictions_per_seq cut more than this share of instances short
RANDOM_NEXT_WARN_SHARE = 0.6    # warn when more pairs than this are random next (the reference aims at about half)
CHUNK = 1 << 16                 # instances counted at a time
SINGLE_SENTENCE_WARN_SHARE = 0.5  # ... and more documents than this are one sentence (long sentences alone
                                  # also force random next pairs, and need no warning)


def counts(docs, instances, config):
    """Counts of one corpus's documents and instances (all ints, so that buckets' counts add up)."""
    sentences_per_doc = np.diff(docs.documents)
    out = {"documents": docs.n_documents, "single_sentence_documents": int((sentences_per_doc == 1).sum()),
           "instances": 0, "real_tokens": 0, "masked_tokens": 0, "capped": 0, "random_next": 0}
    if instances is None or not len(instances):
        return out
    arrays = instances.arrays
    real_tokens = capped = 0
    for start in range(0, len(instances), CHUNK):      # in chunks: temporaries stay small beside the table
        length = 3 + arrays["a_len"][start:start + CHUNK].astype(np.int32) + arrays["b_len"][start:start + CHUNK]
        masked = np.count_nonzero(arrays["positions"][start:start + CHUNK], axis=1)
        wanted = np.maximum(1, np.rint(length * config.masked_lm_prob))   # the reference's round(): half to even
        real_tokens += int(length.sum())
        capped += int(((masked == config.max_predictions_per_seq) & (wanted > config.max_predictions_per_seq)).sum())
    out.update(instances=len(instances), real_tokens=real_tokens, masked_tokens=instances.n_masked_total,
               capped=capped, random_next=instances.n_random_next)
    return out


def figures(c, config):
    """Shares from counts: padding, masked share of real tokens, capped masks, random next, one-sentence
    documents."""
    n = c["instances"]
    return {"padding_share": 1 - c["real_tokens"] / (n * config.max_seq_length) if n else 0.0,
            "masked_share": c["masked_tokens"] / c["real_tokens"] if c["real_tokens"] else 0.0,
            "capped_share": c["capped"] / n if n else 0.0,
            "random_next_share": c["random_next"] / n if n else 0.0,
            "single_sentence_document_share": c["single_sentence_documents"] / c["documents"] if c["documents"]
            else 0.0}


def warnings(c, config):
    """One line per way the instances miss the recipe, each naming the fix."""
    f = figures(c, config)
    out = []
    if f["capped_share"] > CAPPED_WARN_SHARE and f["masked_share"] < MASKED_WARN_RATIO * config.masked_lm_prob:
        want = round(config.max_seq_length * config.masked_lm_prob)
        out.append(f"max_predictions_per_seq={config.max_predictions_per_seq} cut the masks short in "
                   f"{100 * f['capped_share']:.0f}% of instances: {100 * f['masked_share']:.1f}% of real tokens are "
                   f"masked, not {100 * config.masked_lm_prob:g}%; use --max_predictions_per_seq={want} "
                   "(max_seq_length * masked_lm_prob)")
    if f["random_next_share"] > RANDOM_NEXT_WARN_SHARE and \
            f["single_sentence_document_share"] > SINGLE_SENTENCE_WARN_SHARE:
        out.append(f"{100 * f['random_next_share']:.0f}% of pairs are random next, not about half: "
                   f"{100 * f['single_sentence_document_share']:.0f}% of documents are one sentence, and a pair needs "
                   "two sentences of one document; put one sentence per line, and blank lines only between documents")
    return out
