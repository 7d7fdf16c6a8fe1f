"""Kafka / TCP from captures: the window's summary, latency per API over time, handshakes."""

from __future__ import annotations

import altair as alt

from wirehouse.serve.report.base import (
    Chart,
    Marts,
    Section,
    Table,
    category_scale,
    utc_time,
    utc_tooltip,
)


def _draw_summary(marts: Marts) -> Table:
    rows = marts.rows(
        """
        select
            server_addr || ':' || server_port,
            strftime(window_start_at, '%Y-%m-%d %H:%M:%S') || ' - '
                || strftime(window_end_at, '%H:%M:%S'),
            window_start_local || ' - ' || window_end_local,
            connections, packets,
            rst_packets || ' (' || client_rst_packets || ' client, '
                || server_rst_packets || ' server)',
            retransmission_packets, zero_window_packets,
            round(jitter_ms, 3), round(jitter_ms_notebook, 3), kafka_requests,
            kafka_error_requests, round(kafka_latency_avg_ms, 2),
            round(kafka_latency_p95_ms, 2),
            round(kafka_latency_p95_excl_long_poll_ms, 2)
        from marts.fct_server_window_summary
        order by packets desc
        """
    )
    columns = (
        "server",
        "window (UTC)",
        "window (your UTC offset, as given in the vars)",
        "connections",
        "packets",
        "RSTs",
        "retransmissions",
        "zero windows",
        "jitter ms",
        "jitter ms (notebook)",
        "Kafka requests",
        "Kafka errors",
        "latency mean ms",
        "latency p95 ms",
        "p95 without long polls ms",
    )
    # the window in the user's offset only when a window was given in another than UTC's
    if all(row[2].endswith("+00:00") for row in rows):
        columns = columns[:2] + columns[3:]
        rows = [row[:2] + row[3:] for row in rows]
    return Table(columns=columns, rows=rows)


def _draw_latency(marts: Marts) -> alt.TopLevelMixin:
    data = marts.data(
        """
        from (
            unpivot (
                select
                    bucket_at, bucket_seconds, api_name, answered_requests,
                    latency_p50_ms, latency_p95_ms, latency_p99_ms,
                    latency_p50_ms as p50, latency_p95_ms as p95,
                    latency_p99_ms as p99
                from marts.rpt_kafka_latency_bucketed
            ) on p50, p95, p99 into name percentile value latency_ms
        )
        order by api_name, percentile, bucket_at
        """
    )
    x = utc_time("bucket_at", "time (UTC)", fmt="", padding=14)
    colour = alt.Color("percentile:N", scale=category_scale(["p50", "p95", "p99"]))
    tooltip = [
        utc_tooltip("bucket_at", "bucket"),
        "bucket_seconds:Q",
        "api_name:N",
        alt.Tooltip("latency_p50_ms:Q", title="p50 ms", format=",.3f"),
        alt.Tooltip("latency_p95_ms:Q", title="p95 ms", format=",.3f"),
        alt.Tooltip("latency_p99_ms:Q", title="p99 ms", format=",.3f"),
        "answered_requests:Q",
    ]
    y = alt.Y("latency_ms:Q", title="latency ms", scale=alt.Scale(type="log"))
    lines = alt.Chart().mark_line(strokeWidth=1.5).encode(x=x, y=y, color=colour)
    # coinciding percentiles (one request in a bucket) stay visible: nested open shapes of
    # falling size, and every tooltip gives all three
    points = (
        alt.Chart()
        .mark_point(filled=False, strokeWidth=1.5)
        .encode(
            x=x,
            y=y,
            color=colour,
            shape=alt.Shape(
                "percentile:N",
                scale=alt.Scale(
                    domain=["p50", "p95", "p99"], range=["circle", "square", "triangle-up"]
                ),
            ),
            size=alt.Size(
                "percentile:O",
                scale=alt.Scale(domain=["p50", "p95", "p99"], range=[160, 70, 25]),
                legend=None,
            ),
            tooltip=tooltip,
        )
    )
    return (
        alt.layer(lines, points, data=data)
        .properties(width=700, height=110)
        .facet(row=alt.Row("api_name:N", title=None, header=alt.Header(labelAngle=0)))
        .resolve_scale(y="independent")
    )


def _draw_handshakes(marts: Marts) -> alt.TopLevelMixin:
    data = marts.data(
        """
        from (
            unpivot (
                select
                    orig_addr || ':' || orig_port as client,
                    resp_addr || ':' || resp_port as server,
                    syn_to_syn_ack_ms as "SYN to SYN-ACK",
                    syn_ack_to_ack_ms as "SYN-ACK to ACK",
                    initial_rtt_ms as "SYN to ACK (initial RTT)"
                from marts.fct_tcp_handshakes
            ) on "SYN to SYN-ACK", "SYN-ACK to ACK", "SYN to ACK (initial RTT)"
            into name timing value ms
        )
        where ms > 0
        """
    )
    return (
        alt.Chart(data)
        .mark_tick(thickness=2, size=22)
        .encode(
            x=alt.X("ms:Q", title="ms (log scale)", scale=alt.Scale(type="log")),
            y=alt.Y("timing:N", title=None, sort=None),
            color=alt.Color("timing:N", legend=None),
            tooltip=["client:N", "server:N", "timing:N", alt.Tooltip("ms:Q", format=",.3f")],
        )
        .properties(width=640, height=120)
    )


SECTION = Section(
    section_id="kafka_tcp",
    title="Kafka / TCP (captures)",
    load_hint="wirehouse ingest pcap DIR (with --kafka-port for the broker), then dbt build",
    charts=(
        Chart(
            chart_id="window_summary",
            title="Analysis window per server",
            needs=("marts.fct_server_window_summary",),
            draw=_draw_summary,
            caption="Counts are tshark's tcp.analysis flags inside the window (vars "
            "network_window_*, network_server_*); jitter ignores idle gaps.",
        ),
        Chart(
            chart_id="kafka_latency",
            title="Kafka request latency per API over time (p50, p95, p99)",
            needs=("marts.rpt_kafka_latency_bucketed",),
            draw=_draw_latency,
            caption="Last request byte to first response byte; Fetch includes the broker's "
            "wait (fetch_max_wait_ms). Bucket width adapts to the capture's length.",
        ),
        Chart(
            chart_id="handshake_rtt",
            title="TCP handshake timings (one tick per connection)",
            needs=("marts.fct_tcp_handshakes",),
            draw=_draw_handshakes,
            caption="SYN to ACK is the full round trip from any capture point. Near the client, "
            "SYN to SYN-ACK is the network RTT; near the server, SYN-ACK to ACK is.",
        ),
    ),
)
