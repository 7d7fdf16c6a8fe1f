"""Bluetooth sniffs: devices seen, packets per device and type, packets per second."""

from __future__ import annotations

import altair as alt

from wirehouse.serve.report.base import PATH_TAIL, Chart, Marts, Nothing, Section, utc_time, utc_tooltip

TECHNOLOGY_COLORS = alt.Scale(domain=["bredr", "le"], range=["#4c78a8", "#f58518"])
TYPE_COLORS = alt.Scale(scheme="tableau20")


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
    return marts.records(
        """
        select technology, device_id, packet_type, packets
        from marts.fct_bluetooth_device_packet_types
        where is_device and not is_id_packet_type
        order by technology, device_id, packet_type
        """
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
                scale=TYPE_COLORS,
                legend=alt.Legend(columns=2),
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


def _per_second(
    chart_id: str,
    title: str,
    table: str,
    series: str,
    caption: str,
    legend_title: str,
    where: str = "true",
) -> Chart:
    """Packets per second and their running total, one line per series and capture."""

    def draw(marts: Marts) -> alt.TopLevelMixin:
        data = marts.data(
            f"select source_file, {series} as series, second_at, packets, cumulative_packets"
            f" from {table} where {where} order by source_file, series, second_at"
        )
        by_capture = series == "source_file"
        legend = alt.Legend(
            columns=1 if by_capture else 2,
            labelExpr=PATH_TAIL if by_capture else alt.Undefined,
        )
        base = alt.Chart(data).encode(
            x=utc_time("second_at", "time (UTC)", "%H:%M:%S"),
            color=alt.Color("series:N", title=legend_title, scale=TYPE_COLORS, legend=legend),
            detail="source_file:N",  # a device or type in two captures: two lines
            tooltip=[
                "source_file:N",
                alt.Tooltip("series:N", title=legend_title),
                utc_tooltip("second_at", "second"),
                "packets:Q",
                "cumulative_packets:Q",
            ],
        )
        per_second = base.mark_line(strokeWidth=1).encode(
            y=alt.Y("packets:Q", title="packets per second")
        )
        cumulative = base.mark_line().encode(
            y=alt.Y("cumulative_packets:Q", title="packets so far")
        )
        return alt.vconcat(
            per_second.properties(width=720, height=160),
            cumulative.properties(width=720, height=160),
        )

    return Chart(chart_id=chart_id, title=title, needs=(table,), draw=draw, caption=caption)


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
            chart_id="bluetooth_packet_types",
            title="Non-ID packets by type, every device",
            needs=("marts.fct_bluetooth_device_packet_types",),
            draw=_draw_types,
            caption=GHOSTS_LEFT_OUT,
        ),
        Chart(
            chart_id="bluetooth_device_packet_types",
            title="Non-ID packets per device and type",
            needs=("marts.fct_bluetooth_device_packet_types",),
            draw=_draw_device_types,
            caption=GHOSTS_LEFT_OUT,
        ),
        _per_second(
            "bluetooth_packets_per_second",
            "Packets per second and running total, per capture",
            "marts.fct_bluetooth_packets_per_second",
            "source_file",
            "Every Bluetooth packet, ID packets included; seconds without packets are zeros.",
            "capture",
        ),
        _per_second(
            "bluetooth_device_packets_per_second",
            "Packets per second and running total, per device",
            "marts.fct_bluetooth_device_packets_per_second",
            "device_id",
            "Each line spans the device's first to last second in a capture, ID packets "
            "included. " + GHOSTS_LEFT_OUT,
            "device",
            where="is_device",
        ),
        _per_second(
            "bluetooth_packet_types_per_second",
            "Packets per second and running total, per packet type",
            "marts.fct_bluetooth_packet_types_per_second",
            "packet_type",
            "ID is the access code alone (inquiry and paging); each line spans the type's "
            "first to last second in a capture.",
            "packet type",
        ),
    ),
)
