{%- set counters = [
    'ingress_bytes', 'egress_bytes', 'ingress_packets', 'egress_packets'
] -%}

with

samples as (
    select * from {{ ref('stg_systemd_ip_accounting__samples') }}
),

deduplicated as (
    -- a sample can be in two files (a daily file and a merged export):
    -- keep one per timestamp, preferring a row with values, then the newest
    select *
    from samples
    qualify row_number() over (
        partition by sampled_at
        order by is_accounting_off asc, loaded_at desc, source_file asc
    ) = 1
),

sequenced as (
    select
        *,
        -- running count of timestamp-only rows (accounting off); a running
        -- sum, not count(*) filter (...) over, which DuckDB evaluates per row
        -- over the whole frame (quadratic: 880 k samples took minutes)
        sum(is_accounting_off::integer) over (
            order by sampled_at
            rows between unbounded preceding and current row
        ) as accounting_off_through
    from deduplicated
),

valued as (
    select
        *,
        {%- for counter in counters %}
            lag({{ counter }}) over by_time as previous_{{ counter }},
        {%- endfor %}
        lag(sampled_at) over by_time as previous_sampled_at,
        accounting_off_through
        - coalesce(lag(accounting_off_through) over by_time, 0)
            as accounting_off_samples_before
    from sequenced
    where not is_accounting_off
    window by_time as (order by sampled_at)
),

differenced as (
    select
        *,
        {%- for counter in counters %}
            {{ counter }} - previous_{{ counter }} as {{ counter }}_raw_diff,
            {{ counter }} < previous_{{ counter }} as is_{{ counter }}_reset,
        {%- endfor %}
        date_diff(
            'second', previous_sampled_at, sampled_at
        ) as seconds_since_previous
    from valued
),

final as (
    select
        sampled_at,
        previous_sampled_at,
        seconds_since_previous,
        accounting_off_samples_before,
        previous_sampled_at is not null
        and (
            seconds_since_previous > {{ var('max_sample_gap_seconds') }}
            or accounting_off_samples_before > 0
        ) as is_after_gap,
        {%- for counter in counters %}
            {{ counter }},
            previous_{{ counter }},
            {{ counter }}_raw_diff,
            is_{{ counter }}_reset,
            -- exact: a counter that went down restarted from 0, so the traffic
            -- since the previous sample is at least the new value itself
            case
                when is_{{ counter }}_reset then {{ counter }}
                else {{ counter }}_raw_diff
            end as {{ counter }}_delta,
        {%- endfor %}
        source_file
    from differenced
)

select * from final
