{%- set counters = [
    'ingress_bytes', 'egress_bytes', 'ingress_packets', 'egress_packets'
] -%}

with

samples as (
    select * from {{ ref('int_counter_samples_differenced') }}
),

resets as (
    {%- for counter in counters %}
        select
            node_id,
            sampled_at,
            previous_sampled_at,
            '{{ counter }}' as counter_name,
            previous_{{ counter }} as previous_value,
            {{ counter }} as new_value,
            {{ counter }}_raw_diff as raw_diff,
            counter_form
        from samples
        where is_{{ counter }}_reset
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        node_id::string as node_id,
        sampled_at::timestamp as reset_at,
        previous_sampled_at::timestamp as previous_sampled_at,
        counter_name::string as counter_name,
        previous_value::bigint as previous_value,
        new_value::bigint as new_value,
        raw_diff::bigint as raw_diff,
        counter_form::string as counter_form
    from resets
)

select * from final
