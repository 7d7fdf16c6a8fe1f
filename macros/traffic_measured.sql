{#- Measured traffic per period and flow from the systemd counter deltas
    (see fct_traffic_measured_hourly/_daily). Both marts are this macro, so
    the hourly and daily rules cannot drift apart. -#}
{% macro traffic_measured(period) -%}
{%- set p = traffic_period(period) -%}
{%- set flows = {'in': 'ingress', 'out': 'egress'} -%}
with

samples as (
    select * from {{ ref('int_counter_samples_differenced') }}
),

bucketed as (
    select
        *,
        {{ p.bucket.format('sampled_at') }} as {{ p.column }}
    from samples
),

rolled_up as (
    select
        {{ p.column }},
        {%- for flow, side in flows.items() %}
            {{ sum_counter_deltas(side ~ '_bytes') }} as {{ side }}_bytes,
            {{ sum_counter_deltas(side ~ '_packets') }} as {{ side }}_packets,
            count(*) filter (
                where is_{{ side }}_bytes_reset
            ) as {{ side }}_resets,
        {%- endfor %}
        count(*) as samples,
        count(*) filter (where is_after_gap) as gap_samples,
        sum(accounting_off_samples_before) as accounting_off_samples
    from bucketed
    group by all
),

by_flow as (
    {%- for flow, side in flows.items() %}
        select
            {{ p.column }},
            '{{ flow }}' as flow,
            {{ side }}_bytes as measured_bytes,
            {{ side }}_packets as measured_packets,
            {{ side }}_resets as resets,
            samples,
            gap_samples,
            accounting_off_samples
        from rolled_up
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        {{ p.column }}::{{ p.type }} as {{ p.column }},
        flow::varchar as flow,
        measured_bytes::bigint as measured_bytes,
        measured_packets::bigint as measured_packets,
        samples::bigint as sample_count,
        gap_samples::bigint as gap_sample_count,
        accounting_off_samples::bigint as accounting_off_sample_count,
        resets::bigint as reset_count,
        '{{ var("counter_mode") }}'::varchar as counter_mode
    from by_flow
)

select * from final
{%- endmacro %}
