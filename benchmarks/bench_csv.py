"""CSV writing: `planner.csvfast.to_csv_bytes` against `pandas.DataFrame.to_csv`.

1,000,000 rows x 20 columns: 16 float columns of random magnitudes and signs (every value in
scientific notation, 8 significant figures; 1% NaN), 2 whole-number float columns (written as
integers), 1 categorical text column and 1 bool column.  pandas (float_format='%.7e', the same
8 significant figures) runs on the first 100,000 rows and is extrapolated x10, to keep it short.

Run:  python benchmarks/bench_csv.py
"""
import io
import time

import numpy as np

N = 1_000_000
PANDAS_ROWS = 100_000


def columns(n: int, rng) -> dict:
    cols = {}
    for i in range(16):
        x = rng.lognormal(0, 20, n) * rng.choice([-1.0, 1.0], n)
        x[rng.random(n) < 0.01] = np.nan
        cols[f"x{i}"] = x
    cols["gpus"] = rng.integers(8, 800_000, n).astype(float)
    cols["tokens"] = np.full(n, 2e12)
    cols["model"] = (("llama-2-7b", "llama-2-70b"), rng.integers(0, 2, n))
    cols["fits"] = rng.random(n) < 0.5
    return cols


def main():
    import pandas as pd
    from planner.render.csvfast import to_csv_bytes

    rng = np.random.default_rng(0)
    cols = columns(N, rng)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        data = to_csv_bytes(cols)
        times.append(time.perf_counter() - t)
    t_fast = min(times)

    sub = {k: (v[0], v[1][:PANDAS_ROWS]) if isinstance(v, tuple) else v[:PANDAS_ROWS]
           for k, v in cols.items()}
    frame = pd.DataFrame({k: np.asarray(v[0], dtype=object)[v[1]] if isinstance(v, tuple)
                          else v for k, v in sub.items()})
    t = time.perf_counter()
    frame.to_csv(io.StringIO(), index=False, float_format="%.7e")
    t_pandas = (time.perf_counter() - t) * N / PANDAS_ROWS

    # same numbers back (8 significant figures)
    back = pd.read_csv(io.BytesIO(to_csv_bytes(sub)))
    for k in ("x0", "gpus"):
        np.testing.assert_allclose(back[k], sub[k], rtol=1e-7)

    print(f"{'writer':52s} {'rows':>10s} {'seconds':>9s} {'rows/s':>12s} {'MB/s':>7s}")
    mb = len(data) / 1e6
    print(f"{'csvfast.to_csv_bytes (20 columns)':52s} {N:>10,d} {t_fast:>9.2f} "
          f"{N / t_fast:>12,.0f} {mb / t_fast:>7.0f}")
    print(f"{'pandas to_csv (100k rows timed, extrapolated x10)':52s} {N:>10,d} "
          f"{t_pandas:>9.2f} {N / t_pandas:>12,.0f} {mb / t_pandas:>7.0f}")
    print(f"output {mb:.0f} MB; csvfast is {t_pandas / t_fast:.0f}x faster than pandas")


if __name__ == "__main__":
    main()
