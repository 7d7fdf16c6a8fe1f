{{ config(severity='warn') }}
-- Every timed Bluetooth packet is counted in its capture's per-second series,
-- and the last running total equals the capture's packets. A capture longer
-- than var bluetooth_series_max_seconds is cut short, which this reports.

with

packets as (
    select
        source_file,
        count(*) as packets
    from {{ ref('int_bluetooth_packets_unioned') }}
    where second_at is not null
    group by all
),

series as (
    select
        source_file,
        sum(packets) as packets,
        max(cumulative_packets) as last_cumulative_packets
    from {{ ref('fct_bluetooth_packets_per_second') }}
    group by all
)

select
    packets.source_file,
    packets.packets,
    series.packets as series_packets,
    series.last_cumulative_packets
from packets
left join series on packets.source_file = series.source_file
where
    series.packets is distinct from packets.packets
    or series.last_cumulative_packets is distinct from packets.packets
