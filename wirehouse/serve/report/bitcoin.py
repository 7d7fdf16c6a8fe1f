"""Bitcoin node: estimated vs measured traffic, per-peer bandwidth, message-type shares, SPV."""

from __future__ import annotations

import altair as alt

from wirehouse.serve.report.base import Chart, Marts, Nothing, Section, Table, utc_time, utc_tooltip

SERIES_COLORS = alt.Scale(domain=["estimated", "measured"], range=["#4c78a8", "#f58518"])


def _reconciled(period: str) -> Chart:
    table = f"marts.fct_traffic_reconciled_{period}"
    time_col = "hour_at" if period == "hourly" else "traffic_date"
    unit = "hour" if period == "hourly" else "day"

    def draw(marts: Marts) -> alt.TopLevelMixin:
        lines = marts.data(
            f"""
            from (
                unpivot (
                    select
                        {time_col} as period_at, flow, has_reset,
                        estimated_tcpip_bytes as estimated,
                        measured_bytes::double as measured
                    from {table}
                ) on estimated, measured into name series value bytes
            )
            order by flow, series, period_at
            """
        )
        residuals = marts.data(
            f"select {time_col} as period_at, flow, residual_bytes, has_reset from {table}"
            " where residual_bytes is not null order by flow, period_at"
        )
        x = utc_time(
            "period_at", f"{unit} (UTC)", "%b %d %H:%M" if unit == "hour" else "%b %d", unit
        )
        when = utc_tooltip("period_at", unit)
        # a counter reset (bitcoind restart) in the period: a dashed red rule
        reset = (
            alt.Chart()
            .transform_filter("datum.has_reset")
            .mark_rule(color="#e45756", strokeDash=[4, 3])
            .encode(x=x)
        )
        traffic = alt.layer(
            alt.Chart()
            .mark_line(point=unit == "day")
            .encode(
                x=x,
                y=alt.Y("bytes:Q", title=f"bytes per {unit}", axis=alt.Axis(format="~s")),
                color=alt.Color("series:N", scale=SERIES_COLORS, title=None),
                tooltip=[when, "series:N", alt.Tooltip("bytes:Q", format=",.0f")],
            ),
            reset,
            data=lines,
        ).properties(width=360, height=220)
        residual = alt.layer(
            alt.Chart()
            .mark_bar(color="#72b7b2")
            .encode(
                x=x,
                y=alt.Y(
                    "residual_bytes:Q",
                    title="measured - estimated",
                    axis=alt.Axis(format="~s"),
                ),
                tooltip=[when, alt.Tooltip("residual_bytes:Q", format=",.0f")],
            ),
            reset,
            data=residuals,
        ).properties(width=360, height=110)
        return alt.vconcat(
            traffic.facet(column=alt.Column("flow:N", title=None)),
            residual.facet(column=alt.Column("flow:N", title=None)),
        )

    return Chart(
        chart_id=f"traffic_{period}",
        title=f"Estimated vs measured bytes per {unit}, in and out",
        needs=(table,),
        draw=draw,
        caption=(
            "Estimated: tracepoint messages with P2P framing and TCP/IP headers. Measured: "
            "systemd IP accounting of bitcoind.service. Dashed red: a counter reset "
            f"(restart) in the {unit}. Bars: measured minus estimated."
        ),
    )


def _draw_bandwidth(marts: Marts) -> alt.TopLevelMixin:
    data = marts.data(
        """
        select
            row_number() over (order by total_tcpip_bytes_per_second) as peer_rank,
            peer_addr, peer_conn_type, connection_seconds, total_tcpip_bytes_per_second
        from marts.fct_peer_connections
        where is_long_connection and total_tcpip_bytes_per_second > 0
        """
    )
    return (
        alt.Chart(data)
        .mark_circle(size=18)
        .encode(
            x=alt.X(
                "peer_rank:Q",
                title="peer connection (sorted by bandwidth)",
                scale=alt.Scale(nice=False),
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            y=alt.Y(
                "total_tcpip_bytes_per_second:Q",
                title="bytes per second, in + out",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(format="~s"),
            ),
            color=alt.Color("peer_conn_type:N", title="connection type"),
            tooltip=[
                "peer_addr:N",
                "peer_conn_type:N",
                alt.Tooltip("total_tcpip_bytes_per_second:Q", format=",.1f"),
                alt.Tooltip("connection_seconds:Q", format=",d"),
            ],
        )
        .properties(width=760, height=280)
    )


def _shares(peer_set: str) -> Chart:
    order = "getdata, then ping" if peer_set == "all" else "getheaders, then pong"

    def draw(marts: Marts) -> alt.TopLevelMixin | Nothing:
        records = marts.records(
            "select peer_rank, peer_addr, peer_conn_type, msg_type, msgs, msg_share"
            " from marts.rpt_peer_message_share_areas"
            f" where peer_set = '{peer_set}' order by peer_rank, msg_type"
        )
        if not records:
            return Nothing("No zero-inv peers: every connection judged sent inv.")
        data = marts.dataset(records)
        return (
            alt.Chart(data)
            .mark_area()
            .encode(
                x=alt.X(
                    "peer_rank:Q",
                    title=f"peer connection (sorted by {order} share)",
                    scale=alt.Scale(nice=False),
                    axis=alt.Axis(tickMinStep=1, format="d"),
                ),
                y=alt.Y(
                    "msg_share:Q",
                    stack="zero",
                    title="share of messages received",
                    axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1]),
                ),
                color=alt.Color(
                    "msg_type:N",
                    title="message type",
                    scale=alt.Scale(scheme="tableau20"),
                    legend=alt.Legend(columns=2),
                ),
                order=alt.Order("msg_type:O"),
                tooltip=[
                    "peer_addr:N",
                    "peer_conn_type:N",
                    "msg_type:N",
                    "msgs:Q",
                    alt.Tooltip("msg_share:Q", format=".2%"),
                ],
            )
            .properties(width=680, height=300)
        )

    who = "every peer connection" if peer_set == "all" else "zero-inv peers (never sent inv)"
    return Chart(
        chart_id=f"message_shares_{peer_set}",
        title=f"Inbound message-type shares, {who}",
        needs=("marts.rpt_peer_message_share_areas",),
        draw=draw,
        caption="Connections of at least min_connection_seconds; types under 0.1 % for every "
        "peer are left out.",
    )


def _draw_spv(marts: Marts) -> Table:
    rows = marts.rows(
        """
        select
            peer_addr, peer_conn_type, strftime(first_message_at, '%Y-%m-%d %H:%M:%S'),
            strftime(last_message_at, '%Y-%m-%d %H:%M:%S'), connection_seconds,
            in_bloom_filter_msgs
        from marts.dim_peers
        where is_spv_client
        order by first_message_at, peer_addr
        """
    )
    return Table(
        columns=(
            "peer address",
            "connection type",
            "first message (UTC)",
            "last message (UTC)",
            "seconds",
            "filterload/filteradd received",
        ),
        rows=rows,
        empty="No peer sent filterload or filteradd (no BIP37 SPV clients).",
    )


SECTION = Section(
    section_id="bitcoin",
    title="Bitcoin node",
    load_hint="wirehouse ingest tracepoints DIR and wirehouse ingest systemd DIR, then dbt build",
    charts=(
        _reconciled("hourly"),
        _reconciled("daily"),
        Chart(
            chart_id="peer_bandwidth",
            title="Bandwidth per peer connection, sorted (log scale)",
            needs=("marts.fct_peer_connections",),
            draw=_draw_bandwidth,
            caption="Estimated TCP/IP bytes per second over the connection's lifetime; "
            "connections of at least min_connection_seconds.",
        ),
        _shares("all"),
        _shares("zero_inv"),
        Chart(
            chart_id="spv_peers",
            title="SPV peers (BIP37 bloom filters)",
            needs=("marts.dim_peers",),
            draw=_draw_spv,
        ),
    ),
)
