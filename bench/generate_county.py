"""Write a county-sized synthetic registry (one town directory per town) to a folder.

    python bench/generate_county.py OUT_DIR [--towns 20] [--villages-per-town 15]
        [--households-per-village 250] [--hazard-points-per-town 150] [--seed N]

The town codes (621221101…) include jifeng's: load them into a database of their own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.samplegen import DEFAULT_SEED, generate_county


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir", type=Path)
    p.add_argument("--towns", type=int, default=20)
    p.add_argument("--villages-per-town", type=int, default=15)
    p.add_argument("--households-per-village", type=int, default=250)
    p.add_argument("--hazard-points-per-town", type=int, default=150)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    return p


def generate(args: argparse.Namespace) -> list[Path]:
    return generate_county(
        args.out_dir,
        towns=args.towns,
        villages_per_town=args.villages_per_town,
        households_per_village=args.households_per_village,
        hazard_points_per_town=args.hazard_points_per_town,
        seed=args.seed,
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    dirs = generate(args)
    print(f"{len(dirs)} towns written to {args.out_dir} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
