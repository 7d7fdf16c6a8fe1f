"""Packets (pcap or tshark): traffic per hour and minute, totals, packet sizes, top talkers."""

from __future__ import annotations

import altair as alt

from wirehouse.serve.report.base import (
    CAPTURE_SHOWN,
    PATH_TAIL,
    Chart,
    Marts,
    Section,
    Table,
    count_axis,
    utc_tooltip,
)


TOP_CAPTURES = 12  # captures drawn per chart; the totals table lists every one
# keeps the rows of the TOP_CAPTURES largest captures (by wire bytes)
LARGEST = (
    "semi join (select capture_id from marts.fct_capture_totals"
    f" order by wire_bytes desc, capture_id limit {TOP_CAPTURES}) using (capture_id)"
)
ONLY_LARGEST = f"The {TOP_CAPTURES} largest captures; the totals table lists every one."


def _pick_capture(marts: Marts) -> None:
    """A dropdown of the captures drawn (the largest), to show one at a time."""
    captures = marts.values(
        "select capture_id from marts.fct_capture_totals"
        f" order by wire_bytes desc, capture_id limit {TOP_CAPTURES}"
    )
    marts.picker("capture", sorted(captures), "every capture")


def _capture_color() -> alt.Color:
    return alt.Color(
        "capture_id:N",
        title="capture",
        legend=alt.Legend(labelExpr=PATH_TAIL, orient="bottom", columns=3, labelLimit=240),
    )


def _capture_rows() -> alt.Row:
    return alt.Row(
        "capture_id:N",
        title=None,
        header=alt.Header(
            labelExpr=PATH_TAIL, labelAngle=0, labelOrient="top", labelAnchor="start"
        ),
    )


def _per_period(period: str) -> Chart:
    unit = "hour" if period == "hourly" else "minute"
    table = f"marts.fct_packet_traffic_{period}"

    def draw(marts: Marts) -> alt.TopLevelMixin:
        records = marts.records(
            f"""
            select capture_id, {unit}_at, {unit}s_since_start, packets, wire_bytes
            from {table} {LARGEST}
            order by capture_id, {unit}_at
            """
        )
        data = marts.dataset(records)
        last = max(r[f"{unit}s_since_start"] for r in records)
        _pick_capture(marts)
        # one panel per capture, each with its own scales: a 10-minute capture stays
        # readable next to a week-long tshark export
        return (
            alt.Chart()
            .mark_line(point=alt.OverlayMarkDef(size=18 if unit == "hour" else 8))
            .encode(
                x=alt.X(
                    f"{unit}s_since_start:Q",
                    title=f"{unit}s since the capture's first {unit}",
                    axis=count_axis(0, last),
                ),
                y=alt.Y("wire_bytes:Q", title=f"bytes per {unit}", axis=alt.Axis(format="~s")),
                color=alt.Color("capture_id:N", legend=None),
                tooltip=[
                    "capture_id:N",
                    utc_tooltip(f"{unit}_at", unit),
                    alt.Tooltip("packets:Q", format=",d"),
                    alt.Tooltip("wire_bytes:Q", format=",d"),
                ],
            )
            .properties(width=700, height=70)
            .facet(row=_capture_rows(), data=data)
            .transform_filter(CAPTURE_SHOWN)  # panels of the captures shown only
            .resolve_scale(x="independent", y="independent")
        )

    return Chart(
        chart_id=f"packet_traffic_{period}",
        title=f"Traffic per {unit}, per capture",
        needs=(table, "marts.fct_capture_totals"),
        draw=draw,
        caption=f"Wire bytes per UTC {unit}, one panel per capture (the {TOP_CAPTURES} "
        f"largest; every capture is in the totals table); {unit}s without packets (an hour "
        "with no tshark file, a machine offline) are zeros.",
    )


def _draw_totals(marts: Marts) -> Table:
    rows = marts.rows(
        """
        select
            capture_id, source_kind, files, packets, ip_packets, wire_bytes,
            strftime(first_packet_at, '%Y-%m-%d %H:%M:%S'),
            strftime(last_packet_at, '%Y-%m-%d %H:%M:%S'),
            round(duration_seconds, 1), round(mean_bits_per_second)
        from marts.fct_capture_totals
        order by wire_bytes desc, capture_id
        """
    )
    return Table(
        columns=(
            "capture",
            "kind",
            "files",
            "packets",
            "IP packets",
            "wire bytes",
            "first packet (UTC)",
            "last packet (UTC)",
            "seconds",
            "mean bit/s",
        ),
        rows=rows,
    )


def _draw_size_box(marts: Marts) -> alt.TopLevelMixin:
    data = marts.data(
        f"""
        select
            capture_id, packets, min_bytes, lower_whisker_bytes, p25_bytes, median_bytes,
            p75_bytes, upper_whisker_bytes, max_bytes, mean_bytes, outlier_packets
        from marts.fct_packet_size_summary {LARGEST}
        order by capture_id
        """
    )
    y = alt.Y("capture_id:N", title=None, axis=alt.Axis(labelExpr=PATH_TAIL))
    tooltip = [
        "capture_id:N",
        alt.Tooltip("packets:Q", format=",d"),
        "min_bytes:Q",
        "lower_whisker_bytes:Q",
        "p25_bytes:Q",
        "median_bytes:Q",
        "p75_bytes:Q",
        "upper_whisker_bytes:Q",
        "max_bytes:Q",
        alt.Tooltip("mean_bytes:Q", format=",.1f"),
        alt.Tooltip("outlier_packets:Q", format=",d"),
    ]
    x = alt.X("lower_whisker_bytes:Q", title="packet size, wire bytes")
    base = alt.Chart().encode(y=y, tooltip=tooltip)
    whiskers = base.mark_rule().encode(x=x, x2="upper_whisker_bytes:Q")
    box = base.mark_bar(size=16, color="#4c78a8").encode(x="p25_bytes:Q", x2="p75_bytes:Q")
    median = base.mark_tick(size=16, thickness=2, color="white").encode(x="median_bytes:Q")
    # min and max, drawn where they lie beyond the whiskers (outliers)
    extremes = [
        base.mark_point(color="#e45756", size=30).encode(x=f"{column}:Q")
        for column in ("min_bytes", "max_bytes")
    ]
    return alt.layer(whiskers, box, median, *extremes, data=data).properties(width=700)


def _draw_size_pdf(marts: Marts) -> alt.TopLevelMixin:
    data = marts.data(
        f"""
        select capture_id, bin_start_bytes, bin_end_bytes, packets, packet_share
        from marts.fct_packet_size_histogram {LARGEST}
        order by capture_id, bin_index
        """
    )
    _pick_capture(marts)
    return (
        alt.Chart(data)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("bin_start_bytes:Q", bin="binned", title="packet size, wire bytes"),
            x2="bin_end_bytes:Q",
            y=alt.Y("packet_share:Q", title="share of packets", axis=alt.Axis(format="%")),
            tooltip=[
                "capture_id:N",
                "bin_start_bytes:Q",
                "bin_end_bytes:Q",
                alt.Tooltip("packets:Q", format=",d"),
                alt.Tooltip("packet_share:Q", format=".2%"),
            ],
        )
        .properties(width=700, height=90)
        .facet(row=_capture_rows())
        .transform_filter(CAPTURE_SHOWN)
        .resolve_scale(x="independent")
    )


def _draw_size_cdf(marts: Marts) -> alt.TopLevelMixin:
    data = marts.data(
        f"""
        select capture_id, wire_bytes, packets, cumulative_share
        from marts.fct_packet_size_cdf {LARGEST}
        order by capture_id, wire_bytes
        """
    )
    _pick_capture(marts)
    return (
        alt.Chart(data)
        .transform_filter(CAPTURE_SHOWN)
        .mark_line(interpolate="step-after", point=alt.OverlayMarkDef(size=10))
        .encode(
            x=alt.X("wire_bytes:Q", title="packet size, wire bytes"),
            y=alt.Y(
                "cumulative_share:Q",
                title="share of packets at most this size",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=_capture_color(),
            tooltip=[
                "capture_id:N",
                "wire_bytes:Q",
                alt.Tooltip("packets:Q", format=",d"),
                alt.Tooltip("cumulative_share:Q", format=".2%"),
            ],
        )
        .properties(width=760, height=240)
    )


def _draw_talkers(marts: Marts) -> alt.TopLevelMixin:
    data = marts.data(
        f"""
        select capture_id, talker_rank, src_addr, packets, wire_bytes, share_of_bytes
        from marts.fct_top_talkers {LARGEST}
        where talker_role = 'source'
        order by capture_id, talker_rank
        """
    )
    _pick_capture(marts)
    return (
        alt.Chart(data)
        .mark_bar(color="#f58518")
        .encode(
            x=alt.X("wire_bytes:Q", title="wire bytes sent", axis=alt.Axis(format="~s")),
            y=alt.Y("src_addr:N", title=None, sort=alt.SortField("talker_rank")),
            tooltip=[
                "capture_id:N",
                "talker_rank:Q",
                "src_addr:N",
                alt.Tooltip("packets:Q", format=",d"),
                alt.Tooltip("wire_bytes:Q", format=",d"),
                alt.Tooltip("share_of_bytes:Q", format=".2%"),
            ],
        )
        .properties(width=620)
        .facet(row=_capture_rows())
        .transform_filter(CAPTURE_SHOWN)
        .resolve_scale(y="independent", x="independent")
    )


SECTION = Section(
    section_id="packets",
    title="Packets (pcap or tshark)",
    load_hint="wirehouse ingest pcap DIR or wirehouse ingest tshark DIR, then dbt build",
    charts=(
        _per_period("hourly"),
        _per_period("minutely"),
        Chart(
            chart_id="capture_totals",
            title="Totals per capture",
            needs=("marts.fct_capture_totals",),
            draw=_draw_totals,
            caption="Wire bytes include frame headers; a folder of hourly tshark files is one "
            "capture.",
        ),
        Chart(
            chart_id="packet_size_box",
            title="Packet sizes per capture (box plot)",
            needs=("marts.fct_packet_size_summary", "marts.fct_capture_totals"),
            draw=_draw_size_box,
            caption="Box: first to third quartile, white tick the median; whiskers reach the "
            "furthest sizes within 1.5 IQR of the box; red circles the smallest and largest "
            "packet." + " " + ONLY_LARGEST,
        ),
        Chart(
            chart_id="packet_size_pdf",
            title="Packet size distribution (PDF)",
            needs=("marts.fct_packet_size_histogram", "marts.fct_capture_totals"),
            draw=_draw_size_pdf,
            caption="Share of each capture's packets per size bin (var packet_size_bin_bytes, "
            "default 100 bytes)." + " " + ONLY_LARGEST,
        ),
        Chart(
            chart_id="packet_size_cdf",
            title="Packet size distribution (CDF)",
            needs=("marts.fct_packet_size_cdf", "marts.fct_capture_totals"),
            draw=_draw_size_cdf,
        ),
        Chart(
            chart_id="top_talkers",
            title="Top talkers per capture, by bytes sent",
            needs=("marts.fct_top_talkers", "marts.fct_capture_totals"),
            draw=_draw_talkers,
            caption="Source addresses ranked by wire bytes (var top_talkers_n, default 20); "
            "the mart also ranks destinations and address pairs." + " " + ONLY_LARGEST,
        ),
    ),
)
