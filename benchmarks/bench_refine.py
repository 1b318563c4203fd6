"""`make bench`: the DiffOG refinement layer's fast backend against qpth (see diffog/refine/bench.py)."""
import os

# One CPU thread for every library, as torch.set_num_threads(1) gives torch: the batch-1 kernel calls
# SciPy's OpenBLAS, which must be told before it loads (two threads made dpotrf at n=224 2x slower here).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from diffog.refine.bench import main  # noqa: E402

if __name__ == "__main__":
    main()
