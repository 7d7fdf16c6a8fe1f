{%- set idle_ns = var('jitter_idle_gap_ms') * 1000000 -%}
-- Inter-arrival times per connection direction. Gaps above var
-- jitter_idle_gap_ms are idle time, not jitter: they are dropped, and the
-- IAT after an idle gap is compared with the IAT before it.
with

packets as (
    select * from {{ ref('int_packets_sessionized') }}
),

gaps as (
    select
        connection_id,
        is_orig,
        frame_number,
        ts_ns,
        ts_ns - lag(ts_ns) over (
            partition by connection_id, is_orig
            order by frame_number
        ) as iat_ns
    from packets
),

measured as (
    select
        *,
        iat_ns > {{ idle_ns }} as is_idle_gap
    from gaps
    where iat_ns is not null
),

kept as (
    select
        *,
        abs(
            iat_ns - lag(iat_ns) over (
                partition by connection_id, is_orig
                order by frame_number
            )
        ) as iat_change_ns
    from measured
    where not is_idle_gap
),

final as (
    select
        measured.*,
        kept.iat_change_ns
    from measured
    left join kept
        on
            measured.connection_id = kept.connection_id
            and measured.frame_number = kept.frame_number
)

select * from final
