"""Bitcoin node: estimated vs measured traffic, per-peer bandwidth, message-type shares, SPV."""

from __future__ import annotations

import altair as alt

from wirehouse.serve.report.base import (
    NODE_SHOWN,
    Chart,
    Marts,
    Nothing,
    Section,
    Table,
    category_scale,
    count_axis,
    utc_time,
    utc_tooltip,
)

def _reconciled(period: str) -> Chart:
    table = f"marts.fct_traffic_reconciled_{period}"
    time_col = "hour_at" if period == "hourly" else "traffic_date"
    unit = "hour" if period == "hourly" else "day"

    def draw(marts: Marts) -> alt.TopLevelMixin:
        nodes = marts.values(f"select distinct node_id from {table} order by 1")
        marts.picker("node", nodes, "every node")
        lines = marts.data(
            f"""
            from (
                unpivot (
                    select
                        node_id, {time_col} as period_at, flow, has_reset,
                        estimated_tcpip_bytes as estimated,
                        measured_bytes::double as measured
                    from {table}
                ) on estimated, measured into name series value bytes
            )
            order by node_id, flow, series, period_at
            """
        )
        residuals = marts.data(
            f"select node_id, {time_col} as period_at, flow, residual_bytes, has_reset"
            f" from {table} where residual_bytes is not null order by node_id, flow, period_at"
        )
        x = utc_time(
            "period_at", f"{unit} (UTC)", "%b %d %H:%M" if unit == "hour" else "%b %d", unit
        )
        when = utc_tooltip("period_at", unit)
        node = alt.Color("node_id:N", title="node", scale=category_scale(nodes))
        # a counter reset (bitcoind restart) in the period: a dashed rule in the node's colour
        reset = (
            alt.Chart()
            .transform_filter(NODE_SHOWN)
            .transform_filter("datum.has_reset")
            .mark_rule(strokeDash=[4, 3])
            .encode(x=x, color=node)
        )
        traffic = alt.layer(
            alt.Chart()
            .transform_filter(NODE_SHOWN)
            .mark_line(point=unit == "day")
            .encode(
                x=x,
                y=alt.Y("bytes:Q", title=f"bytes per {unit}", axis=alt.Axis(format="~s")),
                color=node,
                strokeDash=alt.StrokeDash(
                    "series:N",
                    title=None,
                    scale=alt.Scale(domain=["measured", "estimated"], range=[[1, 0], [5, 3]]),
                ),
                detail="series:N",
                tooltip=[
                    when,
                    "node_id:N",
                    "series:N",
                    alt.Tooltip("bytes:Q", format=",.0f"),
                ],
            ),
            reset,
            data=lines,
        ).properties(width=400, height=220)
        residual = alt.layer(
            alt.Chart()
            .transform_filter(NODE_SHOWN)
            .mark_line(point=True, strokeWidth=1)
            .encode(
                x=x,
                y=alt.Y(
                    "residual_bytes:Q",
                    title="measured - estimated",
                    axis=alt.Axis(format="~s"),
                ),
                color=node,
                tooltip=[when, "node_id:N", alt.Tooltip("residual_bytes:Q", format=",.0f")],
            ),
            alt.Chart().mark_rule(color="#999").encode(y=alt.datum(0)),
            data=residuals,
        ).properties(width=400, height=120)
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
            "systemd IP accounting of bitcoind.service. One colour per node (pick one above "
            "the chart); solid: measured, dashed: estimated. A dashed vertical rule: a counter "
            f"reset (restart) in the {unit}. Below: measured minus estimated per node."
        ),
    )


def _draw_bandwidth(marts: Marts) -> alt.TopLevelMixin:
    nodes = marts.values("select distinct node_id from marts.fct_peer_connections order by 1")
    marts.picker("node", nodes, "every node")
    records = marts.records(
        """
        select
            node_id,
            row_number() over (
                partition by node_id order by total_tcpip_bytes_per_second
            ) as peer_rank,
            peer_addr, peer_conn_type, connection_seconds, total_tcpip_bytes_per_second
        from marts.fct_peer_connections
        where is_long_connection and total_tcpip_bytes_per_second > 0
        """
    )
    data = marts.dataset(records)
    most_peers = max((r["peer_rank"] for r in records), default=1)
    return (
        alt.Chart(data)
        .transform_filter(NODE_SHOWN)
        .mark_point(size=22, filled=True)
        .encode(
            x=alt.X(
                "peer_rank:Q",
                title="peer connection of the node (sorted by bandwidth)",
                scale=alt.Scale(nice=False),
                axis=count_axis(1, most_peers),
            ),
            y=alt.Y(
                "total_tcpip_bytes_per_second:Q",
                title="bytes per second, in + out",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(format="~s"),
            ),
            color=alt.Color("node_id:N", title="node", scale=category_scale(nodes)),
            shape=alt.Shape("peer_conn_type:N", title="connection type"),
            tooltip=[
                "node_id:N",
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
            "select node_id, peer_rank, peer_addr, peer_conn_type, msg_type, msgs, msg_share"
            " from marts.rpt_peer_message_share_areas"
            f" where peer_set = '{peer_set}' order by node_id, peer_rank, msg_type"
        )
        if not records:
            return Nothing("No zero-inv peers: every connection judged sent inv.")
        # one domain for both share charts: a message type has one colour on the page
        types = marts.values(
            "select distinct msg_type from marts.rpt_peer_message_share_areas order by 1"
        )
        nodes = sorted({r["node_id"] for r in records})
        marts.picker("node", nodes, "every node")
        # an area needs two peers to have a width: a node with one peer gets bars
        most_peers = max(r["peer_rank"] for r in records)
        mark = alt.Chart().mark_area() if most_peers > 1 else alt.Chart().mark_bar(width=40)
        chart = mark.encode(
            x=alt.X(
                "peer_rank:Q",
                title=f"peer connection of the node (sorted by {order} share)",
                scale=alt.Scale(nice=False),
                axis=count_axis(1, most_peers),
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
                scale=category_scale(types),
                legend=alt.Legend(columns=2),
            ),
            order=alt.Order("msg_type:O"),
            tooltip=[
                "node_id:N",
                "peer_addr:N",
                "peer_conn_type:N",
                "msg_type:N",
                "msgs:Q",
                alt.Tooltip("msg_share:Q", format=".2%"),
            ],
        ).properties(width=680, height=240 if len(nodes) > 1 else 300)
        return (
            chart.transform_filter(NODE_SHOWN)
            .facet(data=marts.dataset(records), row=alt.Row("node_id:N", title="node"))
            )

    who = "every peer connection" if peer_set == "all" else "zero-inv peers (never sent inv)"
    return Chart(
        chart_id=f"message_shares_{peer_set}",
        title=f"Inbound message-type shares, {who}",
        needs=("marts.rpt_peer_message_share_areas",),
        draw=draw,
        caption="One panel per node. Connections of at least min_connection_seconds; types "
        "under 0.1 % for every peer are left out.",
    )


def _draw_spv(marts: Marts) -> Table:
    rows = marts.rows(
        """
        select
            node_id, peer_addr, peer_conn_type,
            strftime(first_message_at, '%Y-%m-%d %H:%M:%S'),
            strftime(last_message_at, '%Y-%m-%d %H:%M:%S'), connection_seconds,
            in_bloom_filter_msgs
        from marts.dim_peers
        where is_spv_client
        order by node_id, first_message_at, peer_addr
        """
    )
    return Table(
        columns=(
            "node",
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
