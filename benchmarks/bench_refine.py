"""`make bench`: the DiffOG refinement layer's fast backend against qpth (see diffog/refine/bench.py)."""
from diffog.refine.bench import main

if __name__ == "__main__":
    main()
