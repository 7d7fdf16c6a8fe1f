"""The seed notebooks' pipeline in pandas, as written there: a contender of bench/run.py.

Cells of virtu/bitcoind-p2p-traffic (commit 05748724), run in order on one data folder:

- analysis/validation/00_ETL.ipynb: read the CSV folders, dropna, `ipv6` by a row-wise
  apply, `estimate_network_traffic` by a row-wise apply (axis=1), systemd diff, hourly
  and daily agg_sum, pivot, clamp negatives;
- analysis/peer_analysis/00_ETL.ipynb: `groupby(["peer_id", "peer_addr"]).apply(lambda g:
  pd.Series(...))` per peer, the per-message estimate again (row-wise), hourly and daily
  agg_sum by msg_type x peer x flow;
- analysis/peer_analysis/01_analysis.ipynb: merge the peer map, inbound peers connected
  >= 1 h, msg_type shares by groupby + unstack.
- every result written as bz2 CSV like the notebooks' Load step.

The notebooks use pandarallel's `parallel_apply`; pandarallel is not installed here, so the
row-wise steps use `apply` (one core). Prints a JSON object of step timings (seconds).

Usage: python bench/notebook_way.py DATA_DIR OUT_DIR
"""

from __future__ import annotations

import glob
import json
import math
import os
import sys
import time
from pathlib import Path

import pandas as pd

TIMES: dict[str, float] = {}


class step:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.t = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        TIMES[self.name] = TIMES.get(self.name, 0.0) + time.perf_counter() - self.t


def read_csvs(directory: str) -> pd.DataFrame:
    files = sorted(glob.glob(os.path.join(directory, "*.csv")))
    df_list = [pd.read_csv(file, index_col=0, parse_dates=True) for file in files]
    return pd.concat(df_list).sort_index()


def estimate_network_traffic(row):
    MAX_MTU_SIZE = 1500
    BITCOIN_PROTOCOL_OVERHEAD = 24
    TCP_HEADER_SIZE = 32
    IP_HEADER_SIZE = 40 if row["ipv6"] else 20
    ACK_RATIO = 2
    MSS = MAX_MTU_SIZE - IP_HEADER_SIZE - TCP_HEADER_SIZE
    bitcoin_message_size = row["size"] + BITCOIN_PROTOCOL_OVERHEAD
    num_segments = math.ceil(bitcoin_message_size / MSS)
    tcpip_overhead = num_segments * (IP_HEADER_SIZE + TCP_HEADER_SIZE)
    ack_overhead = (num_segments / ACK_RATIO) * (IP_HEADER_SIZE + TCP_HEADER_SIZE)
    return bitcoin_message_size + tcpip_overhead + ack_overhead


def estimate_peer_traffic(row):
    # peer_analysis/00_ETL.ipynb's variant (payload_size; its own segment bug kept)
    MAX_MTU_SIZE = 1500
    TCP_HEADER_SIZE = 32
    IP_HEADER_SIZE = 40 if row["ipv6"] else 20
    ACK_RATIO = 2
    MSS = MAX_MTU_SIZE - IP_HEADER_SIZE - TCP_HEADER_SIZE
    bitcoin_message_size = row["payload_size"]
    num_segments = math.ceil(bitcoin_message_size / MSS)
    tcpip_overhead = num_segments * (IP_HEADER_SIZE + TCP_HEADER_SIZE)
    ack_overhead = (num_segments / ACK_RATIO) * (IP_HEADER_SIZE + TCP_HEADER_SIZE)
    return bitcoin_message_size + tcpip_overhead + ack_overhead


def agg_sum(df, cols, freq, data="net_size"):
    df_tmp = df.copy()
    df_tmp.index = df_tmp.index.floor(freq)
    grouped = df_tmp.groupby(["timestamp"] + cols)  # noqa: RUF005 (notebook code, verbatim)
    return grouped[data].sum().reset_index().set_index("timestamp")


def pivot(df, index, columns="flow", values="net_size"):
    return (
        df.reset_index()
        .pivot(index=index, columns=columns, values=values)
        .rename_axis(None, axis=1)
        .reset_index()
        .set_index("timestamp")
        .fillna(0)
        .astype({"in": "int", "out": "int"})
    )


def main(data: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with step("extract"):
        df_emp = read_csvs(str(data / "systemd" / "ip_accounting"))
        df_tp_raw = read_csvs(str(data / "tracepoints" / "net"))
    rows = len(df_tp_raw)

    # --- validation/00_ETL.ipynb
    with step("transform"):
        df_tp = df_tp_raw.dropna()
        df_tp["ipv6"] = df_tp["peer_addr"].apply(lambda x: True if "[" in x else False)  # noqa: SIM210
        df_tp = df_tp[["ipv6", "flow", "msg_type", "size"]]
        df_emp = df_emp.dropna()
        df_emp = df_emp[["IPIngressBytes", "IPEgressBytes"]]
        df_emp = df_emp.diff()[1:]
    with step("transform_rowwise_estimate"):
        df_tp["net_size"] = df_tp.apply(estimate_network_traffic, axis=1)
    with step("transform"):
        df_emp = (
            df_emp.rename(columns={"IPIngressBytes": "in", "IPEgressBytes": "out"})[["in", "out"]]
            .stack()
            .rename("net_size")
            .reset_index()
            .rename(columns={"level_1": "flow"})
            .set_index("timestamp")
        )
        dfs = {
            "est_hourly": agg_sum(df_tp, ["flow", "msg_type"], freq="1h"),
            "est_daily": agg_sum(df_tp, ["flow", "msg_type"], freq="1D"),
            "emp_hourly": agg_sum(df_emp, ["flow"], freq="1h"),
            "emp_daily": agg_sum(df_emp, ["flow"], freq="1D"),
        }
        dfs = {
            "est_hourly": pivot(dfs["est_hourly"], ["timestamp", "msg_type"]),
            "est_daily": pivot(dfs["est_daily"], ["timestamp", "msg_type"]),
            "emp_hourly": pivot(dfs["emp_hourly"], ["timestamp"]),
            "emp_daily": pivot(dfs["emp_daily"], ["timestamp"]),
        }
        for name, df in dfs.items():
            if not name.startswith("emp_"):
                continue
            for row in ["in", "out"]:
                df.loc[df[row] < 0, row] = 0
            dfs[name] = df
    with step("load"):
        for name, df in dfs.items():
            df.to_csv(out / f"data_{name}.csv.bz2", compression="bz2")

    # --- peer_analysis/00_ETL.ipynb
    with step("transform_groupby_apply_per_peer"):
        df = df_tp_raw
        df_map = (
            df.groupby(["peer_id", "peer_addr"])
            .apply(
                lambda g: pd.Series(
                    {
                        "connection_time": g.index.max() - g.index.min(),
                        "peer_conn_type": g["peer_conn_type"].iloc[0],
                    }
                )
            )
            .reset_index()
        )
    with step("transform"):
        df = df.dropna()
        df["ipv6"] = df["peer_addr"].apply(lambda x: True if "[" in x else False)  # noqa: SIM210
        df = df[["peer_id", "peer_addr", "ipv6", "flow", "msg_type", "size"]]
        df = df.rename(columns={"size": "payload_size"})
        df["message_size"] = df["payload_size"] + 24
    with step("transform_rowwise_estimate"):
        df["tcpip_size"] = df.apply(estimate_peer_traffic, axis=1)
    with step("transform"):
        cols = ["payload_size", "message_size", "tcpip_size"]
        peer = {
            "hourly": agg_sum(df, ["msg_type", "peer_id", "peer_addr", "flow"], "1h", cols),
            "daily": agg_sum(df, ["msg_type", "peer_id", "peer_addr", "flow"], "1D", cols),
        }
    with step("load"):
        for name, df_ in peer.items():
            df_.to_csv(out / f"peer_data_{name}.csv.bz2", compression="bz2")
        df_map.to_csv(out / "id-addr-mapping.csv.bz2", compression="bz2")

    # --- peer_analysis/01_analysis.ipynb (the data part, no plots)
    with step("transform"):
        df_d = peer["daily"].reset_index()
        df_d = df_d.merge(df_map, on=["peer_id", "peer_addr"], how="left").set_index("timestamp")
        df = df_d[
            (df_d["peer_conn_type"] == "inbound")
            & (df_d["flow"] == "in")
            & (pd.to_timedelta(df_d["connection_time"]) >= pd.Timedelta(hours=1))
        ].copy()
        grp = (
            df.groupby(["peer_id", "peer_addr", "msg_type"])["tcpip_size"]
            .sum()
            .unstack(fill_value=0)
        )
        peer_total = grp.sum(axis=1)
        for msg in list(grp.columns):
            grp[msg + "_share"] = grp[msg] / peer_total
    with step("load"):
        grp.to_csv(out / "peer_shares.csv.bz2", compression="bz2")

    TIMES["rows"] = rows
    print(json.dumps(TIMES))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
