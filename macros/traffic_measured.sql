{#- Measured traffic per period and flow from the systemd counter deltas
    (see fct_traffic_measured_hourly/_daily). Both marts are this macro, so
    the hourly and daily rules cannot drift apart. -#}
{% macro traffic_measured(period) -%}
{%- set p = traffic_period(period) -%}
{%- set flows = {'in': 'ingress', 'out': 'egress'} -%}
{#- incremental (config in the YAML): the nodes and days with new samples -#}
{%- set changes = nodes_changed('samples') -%}
with

samples as (
    select * from {{ ref('int_counter_samples_differenced') }}
    where {{ rebuilt_rows(changes, 'sampled_at') }}
),

bucketed as (
    select
        *,
        {{ p.bucket.format('sampled_at') }} as {{ p.column }}
    from samples
),

rolled_up as (
    select
        node_id,
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
        count(*) filter (where is_collection_gap) as collection_gaps,
        sum(accounting_off_samples_before) as accounting_off_samples,
        max(loaded_at) as loaded_at
    from bucketed
    group by all
),

by_flow as (
    {%- for flow, side in flows.items() %}
        select
            node_id,
            {{ p.column }},
            '{{ flow }}' as flow,
            {{ side }}_bytes as measured_bytes,
            {{ side }}_packets as measured_packets,
            {{ side }}_resets as resets,
            samples,
            gap_samples,
            collection_gaps,
            accounting_off_samples,
            loaded_at
        from rolled_up
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        node_id::string as node_id,
        {{ p.column }}::{{ p.type }} as {{ p.column }},
        flow::string as flow,
        measured_bytes::bigint as measured_bytes,
        measured_packets::bigint as measured_packets,
        samples::bigint as sample_count,
        gap_samples::bigint as gap_sample_count,
        collection_gaps::bigint as collection_gap_count,
        accounting_off_samples::bigint as accounting_off_sample_count,
        resets::bigint as reset_count,
        '{{ var("counter_mode") }}'::string as counter_mode,
        loaded_at::timestamp as loaded_at
    from by_flow
)

select * from final
{%- endmacro %}
