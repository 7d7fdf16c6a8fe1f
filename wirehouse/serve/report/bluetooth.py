"""Bluetooth sniffs: devices seen, packets per device and type, packets per second."""

from __future__ import annotations

import altair as alt

from wirehouse.serve.report.base import (
    CAPTURE_SHOWN,
    PATH_TAIL,
    Chart,
    Marts,
    Nothing,
    Section,
    Table,
    category_scale,
    utc_tooltip,
)

TOP_DEVICES = 30  # bars per device chart; the device table lists every one
TECHNOLOGY_COLORS = alt.Scale(domain=["bredr", "le"], range=["#4c78a8", "#f58518"])


# the marts _packet_types reads
TYPE_MARTS = (
    "marts.fct_bluetooth_device_packet_types",
    "marts.fct_bluetooth_packet_types_per_second",
)


def _packet_types(marts: Marts) -> list[object]:
    """Every packet type, the domain of every chart coloured by type (one colour each)."""
    return marts.values(
        "select packet_type from marts.fct_bluetooth_device_packet_types"
        " union select packet_type from marts.fct_bluetooth_packet_types_per_second"
        " order by 1"
    )


def _device_bars(
    marts: Marts, measure: str, where: str, title: str, nothing: str
) -> alt.TopLevelMixin | Nothing:
    records = marts.records(
        f"""
        select
            technology, device_id, bd_addr, packets, non_id_packets,
            array_to_string(packet_types, ', ') as packet_types, capture_files,
            first_seen_at, last_seen_at
        from marts.dim_bluetooth_devices
        where is_device and {where}
        order by {measure} desc, device_id
        limit {TOP_DEVICES}
        """
    )
    if not records:
        return Nothing(nothing)
    return (
        alt.Chart(marts.dataset(records))
        .mark_bar()
        .encode(
            x=alt.X("device_id:N", title="device (BR/EDR LAP or BLE address)", sort=None),
            y=alt.Y(f"{measure}:Q", title=title),
            color=alt.Color("technology:N", scale=TECHNOLOGY_COLORS),
            tooltip=[
                "technology:N",
                "device_id:N",
                "bd_addr:N",
                alt.Tooltip("packets:Q", format=",d"),
                alt.Tooltip("non_id_packets:Q", format=",d"),
                "packet_types:N",
                "capture_files:Q",
                utc_tooltip("first_seen_at", "first seen"),
                utc_tooltip("last_seen_at", "last seen"),
            ],
        )
        .properties(width=alt.Step(22), height=220)
    )


def _draw_seen(marts: Marts) -> alt.TopLevelMixin | Nothing:
    return _device_bars(
        marts,
        "packets",
        "is_seen_more_than_once",
        "packets seen, ID packets included",
        "Every device was seen only once (one-offs are often decoding errors).",
    )


def _draw_non_id(marts: Marts) -> alt.TopLevelMixin | Nothing:
    return _device_bars(
        marts,
        "non_id_packets",
        "non_id_packets > 0",
        "non-ID packets seen",
        "No device sent anything but ID packets.",
    )


def _non_id_types(marts: Marts) -> list[dict[str, object]]:
    """Non-ID packets per device and type, for the TOP_DEVICES devices that sent most."""
    return marts.records(
        f"""
        with kept as (
            select technology, device_id
            from marts.fct_bluetooth_device_packet_types
            where is_device and not is_id_packet_type
            group by all
            order by sum(packets) desc, device_id
            limit {TOP_DEVICES}
        )
        select technology, device_id, packet_type, packets
        from marts.fct_bluetooth_device_packet_types semi join kept using (technology, device_id)
        where is_device and not is_id_packet_type
        order by technology, device_id, packet_type
        """
    )


def _draw_device_table(marts: Marts) -> Table:
    rows = marts.rows(
        """
        select
            technology, device_id, bd_addr, packets, non_id_packets, crc_valid_packets,
            capture_files, strftime(first_seen_at, '%Y-%m-%d %H:%M:%S'),
            strftime(last_seen_at, '%Y-%m-%d %H:%M:%S')
        from marts.dim_bluetooth_devices
        where is_device
        order by packets desc, technology, device_id
        """
    )
    return Table(
        columns=(
            "technology",
            "device",
            "BD_ADDR",
            "packets",
            "non-ID packets",
            "CRC-valid packets",
            "captures",
            "first seen (UTC)",
            "last seen (UTC)",
        ),
        rows=rows,
    )


NO_NON_ID = "Only ID packets were seen (access codes, nothing after them)."
GHOSTS_LEFT_OUT = (
    "Addresses whose every packet failed its CRC (a noisy sniff's bit-flipped copies of "
    "real addresses) are left out: dim_bluetooth_devices keeps them with is_device = false."
)


def _draw_types(marts: Marts) -> alt.TopLevelMixin | Nothing:
    records = _non_id_types(marts)
    if not records:
        return Nothing(NO_NON_ID)
    return (
        alt.Chart(marts.dataset(records))
        .mark_bar()
        .encode(
            y=alt.Y("packet_type:N", title=None, sort="-x"),
            x=alt.X("sum(packets):Q", title="packets, every device"),
            color=alt.Color("technology:N", scale=TECHNOLOGY_COLORS),
            tooltip=[
                "technology:N",
                "packet_type:N",
                alt.Tooltip("sum(packets):Q", title="packets", format=",d"),
            ],
        )
        .properties(width=600)
    )


def _draw_device_types(marts: Marts) -> alt.TopLevelMixin | Nothing:
    records = _non_id_types(marts)
    if not records:
        return Nothing(NO_NON_ID)
    return (
        alt.Chart(marts.dataset(records))
        .mark_bar()
        .encode(
            x=alt.X("device_id:N", title="device", sort="-y"),
            y=alt.Y("sum(packets):Q", title="non-ID packets", stack="zero"),
            color=alt.Color(
                "packet_type:N",
                title="packet type",
                scale=category_scale(_packet_types(marts)),
                # the page's colours, this chart's types
                legend=alt.Legend(
                    orient="bottom",
                    columns=6,
                    values=sorted({r["packet_type"] for r in records}),
                    symbolLimit=0,
                ),
            ),
            order=alt.Order("packet_type:O"),
            tooltip=[
                "technology:N",
                "device_id:N",
                "packet_type:N",
                alt.Tooltip("packets:Q", format=",d"),
            ],
        )
        .properties(width=alt.Step(22), height=240)
    )


TOP_SERIES = 10  # devices or packet types drawn each; the rest are summed as "other"


def _per_second(
    chart_id: str,
    title: str,
    table: str,
    series: str,
    caption: str,
    legend_title: str,
    where: str = "true",
) -> Chart:
    """Packets per second and their running total against seconds since each capture's
    first packet: one line per capture, or per device or type (the busiest TOP_SERIES, the
    rest as "other") in one panel per capture."""
    by_capture = series == "capture_id"

    def draw(marts: Marts) -> alt.TopLevelMixin:
        records = marts.records(
            f"""
            with totals as (
                select {series} as series, sum(packets) as packets
                from {table} where {where} group by all
            ),
            kept as (
                select
                    series,
                    row_number() over (order by packets desc, series) <= {TOP_SERIES} as is_top
                from totals
            ),
            lines as (
                select
                    capture_id,
                    if(kept.is_top, rows.{series}, 'other') as series,
                    seconds_since_capture_start,
                    min(second_at) as second_at,
                    sum(packets) as packets
                from {table} as rows
                inner join kept on rows.{series} = kept.series
                where {where}
                group by all
            )
            select
                *,
                sum(packets) over (
                    partition by capture_id, series order by seconds_since_capture_start
                ) as cumulative_packets
            from lines
            order by capture_id, series, seconds_since_capture_start
            """
        )
        domain = sorted({r["series"] for r in records} - {"other"})
        if series == "packet_type":
            domain = _packet_types(marts)
        colours = category_scale(domain)
        if any(r["series"] == "other" for r in records):
            colours = alt.Scale(domain=[*domain, "other"], range=[*colours.range, "#bbbbbb"])
        legend = alt.Legend(
            columns=1 if by_capture else 2,
            labelExpr=PATH_TAIL if by_capture else alt.Undefined,
            orient="right",
            values=sorted({r["series"] for r in records}, key=lambda v: (v == "other", v)),
            symbolLimit=0,
        )
        marts.picker("capture", sorted({r["capture_id"] for r in records}), "every capture")
        base = alt.Chart().encode(
            x=alt.X(
                "seconds_since_capture_start:Q",
                title="seconds since the capture's first packet",
                axis=alt.Axis(tickMinStep=1, format="~s"),
            ),
            color=alt.Color("series:N", title=legend_title, scale=colours, legend=legend),
            detail="capture_id:N",  # a device or type in two captures: two lines
            tooltip=[
                alt.Tooltip("capture_id:N", title="capture"),
                alt.Tooltip("series:N", title=legend_title),
                utc_tooltip("second_at", "second (UTC)"),
                alt.Tooltip("seconds_since_capture_start:Q", title="seconds since start"),
                alt.Tooltip("packets:Q", format=",d"),
                alt.Tooltip("cumulative_packets:Q", format=",d"),
            ],
        )
        per_second = base.mark_line(strokeWidth=1).encode(
            y=alt.Y("packets:Q", title="packets per second")
        )
        cumulative = base.mark_line().encode(
            y=alt.Y("cumulative_packets:Q", title="packets so far")
        )
        data = marts.dataset(records)
        if by_capture:
            return alt.vconcat(
                per_second.transform_filter(CAPTURE_SHOWN).properties(width=720, height=160),
                cumulative.transform_filter(CAPTURE_SHOWN).properties(width=720, height=160),
                data=data,
            )
        # one panel per capture: captures from different days never share a line
        # (each panel its own scales: a 10-s sniff next to a 10-min one stays readable)
        panel = alt.Row(
            "capture_id:N",
            title=None,
            header=alt.Header(
                labelExpr=PATH_TAIL, labelAngle=0, labelOrient="top", labelAnchor="start"
            ),
        )

        def panels(chart: alt.Chart) -> alt.FacetChart:
            return (
                chart.properties(width=720, height=100)
                .facet(row=panel, data=data)
                .transform_filter(CAPTURE_SHOWN)  # panels of the captures shown only
                .resolve_scale(x="independent", y="independent")
            )

        return alt.vconcat(panels(per_second), panels(cumulative))

    needs = (table, *TYPE_MARTS) if series == "packet_type" else (table,)
    return Chart(
        chart_id=chart_id, title=title, needs=tuple(dict.fromkeys(needs)), draw=draw,
        caption=caption,
    )


SECTION = Section(
    section_id="bluetooth",
    title="Bluetooth",
    load_hint="wirehouse ingest pcap DIR (Ubertooth / libbtbb or BLE sniffer captures), "
    "then dbt build",
    charts=(
        Chart(
            chart_id="bluetooth_devices_seen",
            title="Devices seen more than once",
            needs=("marts.dim_bluetooth_devices",),
            draw=_draw_seen,
            caption="Every packet from or to the device, ID packets included. LAPs 9e:8b:00 "
            "to 9e:8b:3f are inquiry access codes shared by every inquiring device. "
            + GHOSTS_LEFT_OUT,
        ),
        Chart(
            chart_id="bluetooth_non_id_per_device",
            title="Non-ID packets per device",
            needs=("marts.dim_bluetooth_devices",),
            draw=_draw_non_id,
            caption="More were likely sent: a sniffer sees only what it hears. "
            + GHOSTS_LEFT_OUT,
        ),
        Chart(
            chart_id="bluetooth_devices",
            title="Every device",
            needs=("marts.dim_bluetooth_devices",),
            draw=_draw_device_table,
            caption=f"The charts above show the {TOP_DEVICES} busiest devices; this lists them "
            "all. " + GHOSTS_LEFT_OUT,
        ),
        Chart(
            chart_id="bluetooth_packet_types",
            title="Non-ID packets by type, every device",
            needs=("marts.fct_bluetooth_device_packet_types",),
            draw=_draw_types,
            caption=GHOSTS_LEFT_OUT,
        ),
        Chart(
            chart_id="bluetooth_device_packet_types",
            title="Non-ID packets per device and type",
            needs=TYPE_MARTS,  # (every type's colour comes from both type marts)
            draw=_draw_device_types,
            caption=GHOSTS_LEFT_OUT,
        ),
        _per_second(
            "bluetooth_packets_per_second",
            "Packets per second and running total, per capture",
            "marts.fct_bluetooth_packets_per_second",
            "capture_id",
            "Every Bluetooth packet, ID packets included; seconds without packets are zeros. "
            "Time runs from each capture's first packet, so captures from different days "
            "share the axis (tooltips give the UTC time).",
            "capture",
        ),
        _per_second(
            "bluetooth_device_packets_per_second",
            "Packets per second and running total, per device",
            "marts.fct_bluetooth_device_packets_per_second",
            "device_id",
            f"One panel per capture; the {TOP_SERIES} busiest devices, the rest summed as "
            "other. Each line spans the device's first to last second in the capture, ID "
            "packets included. " + GHOSTS_LEFT_OUT,
            "device",
            where="is_device",
        ),
        _per_second(
            "bluetooth_packet_types_per_second",
            "Packets per second and running total, per packet type",
            "marts.fct_bluetooth_packet_types_per_second",
            "packet_type",
            f"One panel per capture; the {TOP_SERIES} busiest types, the rest summed as other. "
            "ID is the access code alone (inquiry and paging); each line spans the type's "
            "first to last second in the capture.",
            "packet type",
        ),
    ),
)
