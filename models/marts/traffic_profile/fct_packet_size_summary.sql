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
        quantile_cont(wire_bytes, [0.25, 0.5, 0.75, 0.9, 0.99]) as q
    from packets
    group by all
),

fences as (
    select
        *,
        q[1] - 1.5 * (q[3] - q[1]) as lower_fence,
        q[3] + 1.5 * (q[3] - q[1]) as upper_fence
    from quantiles
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
        fences.capture_id::varchar as capture_id,
        fences.packets::bigint as packets,
        fences.min_bytes::bigint as min_bytes,
        fences.q[1]::double as p25_bytes,
        fences.q[2]::double as median_bytes,
        fences.q[3]::double as p75_bytes,
        fences.q[4]::double as p90_bytes,
        fences.q[5]::double as p99_bytes,
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
