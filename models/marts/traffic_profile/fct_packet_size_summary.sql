-- Box-plot numbers: quartiles by linear interpolation (as pandas and
-- matplotlib compute them), whiskers at the furthest sizes within 1.5 IQR.
with

packets as (
    select * from {{ ref('int_packets_unioned') }}
    where wire_bytes is not null
),

quantiles as (
    select
        capture_id,
        count(*) as packets,
        min(wire_bytes) as min_bytes,
        max(wire_bytes) as max_bytes,
        avg(wire_bytes) as mean_bytes,
        {{ exact_stddev_pop('wire_bytes') }} as stddev_bytes,
        {{ quantiles_cont('wire_bytes', [0.25, 0.5, 0.75, 0.9, 0.99]) }} as q
    from packets
    group by all
),

-- the quantiles, computed in one pass, as columns
unpacked as (
    select
        capture_id,
        packets,
        min_bytes,
        max_bytes,
        mean_bytes,
        stddev_bytes,
        {{ list_element('q', 1) }} as p25_bytes,
        {{ list_element('q', 2) }} as median_bytes,
        {{ list_element('q', 3) }} as p75_bytes,
        {{ list_element('q', 4) }} as p90_bytes,
        {{ list_element('q', 5) }} as p99_bytes
    from quantiles
),

fences as (
    select
        *,
        p25_bytes - 1.5 * (p75_bytes - p25_bytes) as lower_fence,
        p75_bytes + 1.5 * (p75_bytes - p25_bytes) as upper_fence
    from unpacked
),

whiskers as (
    select
        fences.capture_id,
        min(packets.wire_bytes) filter (
            where packets.wire_bytes >= fences.lower_fence
        ) as lower_whisker_bytes,
        max(packets.wire_bytes) filter (
            where packets.wire_bytes <= fences.upper_fence
        ) as upper_whisker_bytes,
        count(*) filter (
            where
            packets.wire_bytes < fences.lower_fence
            or packets.wire_bytes > fences.upper_fence
        ) as outlier_packets
    from fences
    inner join packets
        on fences.capture_id = packets.capture_id
    group by all
),

final as (
    select
        fences.capture_id::string as capture_id,
        fences.packets::bigint as packets,
        fences.min_bytes::bigint as min_bytes,
        fences.p25_bytes::double as p25_bytes,
        fences.median_bytes::double as median_bytes,
        fences.p75_bytes::double as p75_bytes,
        fences.p90_bytes::double as p90_bytes,
        fences.p99_bytes::double as p99_bytes,
        fences.max_bytes::bigint as max_bytes,
        fences.mean_bytes::double as mean_bytes,
        fences.stddev_bytes::double as stddev_bytes,
        whiskers.lower_whisker_bytes::bigint as lower_whisker_bytes,
        whiskers.upper_whisker_bytes::bigint as upper_whisker_bytes,
        whiskers.outlier_packets::bigint as outlier_packets
    from fences
    inner join whiskers
        on fences.capture_id = whiskers.capture_id
)

select * from final
