"""A few seconds of tools/fuzz_native.py (fixed seed, no sanitizer): random vocabs, texts and API arguments
through the native kernels; no crash, no unexpected exception, no broken invariant."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import fuzz_native  # noqa: E402


def test_fuzz_the_native_kernels_briefly():
    done, findings = fuzz_native.run(seconds=4, seed=0)
    assert not findings, "\n".join(f"case {case} ({target}):\n{trace}" for case, target, trace in findings[:3])
    assert set(done) == set(fuzz_native.TARGETS) and min(done.values()) >= 5, done
