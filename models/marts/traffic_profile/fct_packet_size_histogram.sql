-- Fixed-width bins from 0 bytes to the capture's largest packet, empty bins
-- included, so the PDF and CDF columns plot without gaps.
{%- set width = var('packet_size_bin_bytes') %}
with

packets as (
    select * from {{ ref('int_packets_unioned') }}
    where wire_bytes is not null
),

binned as (
    select
        capture_id,
        {{ int_div('wire_bytes', width) }} as bin_index,
        count(*) as packets
    from packets
    group by all
),

spans as (
    select
        capture_id,
        max(bin_index) as last_bin_index
    from binned
    group by all
),

bins as (
    select
        capture_id,
        {{ unnest_series('0', 'last_bin_index') }} as bin_index
    from spans
),

filled as (
    select
        bins.capture_id,
        bins.bin_index,
        coalesce(binned.packets, 0) as packets
    from bins
    left join binned
        on
            bins.capture_id = binned.capture_id
            and bins.bin_index = binned.bin_index
),

shares as (
    select
        *,
        sum(packets) over (partition by capture_id) as capture_packets,
        sum(packets) over (
            partition by capture_id
            order by bin_index
            rows between unbounded preceding and current row
        ) as cumulative_packets
    from filled
),

final as (
    select
        capture_id::string as capture_id,
        bin_index::bigint as bin_index,
        (bin_index * {{ width }})::bigint as bin_start_bytes,
        ((bin_index + 1) * {{ width }})::bigint as bin_end_bytes,
        packets::bigint as packets,
        (packets / capture_packets)::double as packet_share,
        (packets / capture_packets / {{ width }})::double as density_per_byte,
        cumulative_packets::bigint as cumulative_packets,
        (cumulative_packets / capture_packets)::double as cumulative_share
    from shares
)

select * from final
