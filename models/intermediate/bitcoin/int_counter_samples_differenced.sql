{%- set counters = {
    'ingress_bytes': var('max_counter_bytes_per_second'),
    'egress_bytes': var('max_counter_bytes_per_second'),
    'ingress_packets': var('max_counter_packets_per_second'),
    'egress_packets': var('max_counter_packets_per_second'),
} -%}
{#- incremental (partition_by node_id, sampled_date): each node with new
    samples from the first changed day on, reading from its last sample
    before that day so the first difference has its baseline -#}
{%- set changes = nodes_changed('samples') -%}
{%- set read_from = changes -%}
{%- if changes %}
    {%- set baselines = run_query(
        'select node_id, cast(max(sampled_at) as string) from ' ~ this
        ~ ' where not ' ~ rebuilt_rows(changes, 'sampled_at')
        ~ ' group by node_id'
    ).rows -%}
    {%- set baseline_of = {} -%}
    {%- for node, sampled_at in baselines -%}
        {%- do baseline_of.update({node: sampled_at}) -%}
    {%- endfor -%}
    {%- set read_from = [] -%}
    {%- for node, from_date in changes -%}
        {%- do read_from.append([node, baseline_of.get(node) or from_date]) -%}
    {%- endfor -%}
{%- endif %}

with

samples as (
    select * from {{ ref('stg_systemd_ip_accounting__samples') }}
    where
        is_plausible_time  -- the others are listed in fct_implausible_values
        and {{ rebuilt_rows(read_from, 'sampled_at') }}
),

intervals as (
    select * from {{ ref('stg_systemd_ip_accounting__intervals') }}
    where is_plausible_time and {{ rebuilt_rows(read_from, 'sampled_at') }}
),

normalized as (
    -- both forms in one series: cumulative counters, or differences that a
    -- preprocessed file already holds (*_given)
    select
        node_id,
        sampled_at,
        is_accounting_off,
        'cumulative' as counter_form,
        {%- for counter in counters %}
            {{ counter }},
            null::bigint as {{ counter }}_given,
        {%- endfor %}
        source_file,
        loaded_at
    from samples
    union all
    select
        node_id,
        sampled_at,
        is_accounting_off,
        'deltas' as counter_form,
        {%- for counter in counters %}
            null::bigint as {{ counter }},
            {{ counter }}_diff as {{ counter }}_given,
        {%- endfor %}
        source_file,
        loaded_at
    from intervals
),

deduplicated as (
    -- a sample can be in two files (a daily file and a merged export, or
    -- both forms): keep one per timestamp, preferring a row with values,
    -- then counters over differences, then the newest
    select *
    from normalized
    qualify row_number() over (
        partition by node_id, sampled_at
        order by
            is_accounting_off asc,
            counter_form asc,
            loaded_at desc,
            source_file asc
    ) = 1
),

sequenced as (
    select
        *,
        -- running count of timestamp-only rows (accounting off); a running
        -- sum, not count(*) filter (...) over, which DuckDB evaluates per row
        -- over the whole frame (quadratic: 880 k samples took minutes)
        sum(is_accounting_off::integer) over (
            partition by node_id
            order by sampled_at
            rows between unbounded preceding and current row
        ) as accounting_off_through
    from deduplicated
),

neighboured as (
    select
        *,
        {%- for counter in counters %}
            lag({{ counter }}) over by_time as before_{{ counter }},
            lead({{ counter }}) over by_time as after_{{ counter }},
        {%- endfor %}
        lag(sampled_at) over by_time as before_sampled_at,
        lead(sampled_at) over by_time as after_sampled_at
    from sequenced
    where not is_accounting_off
    window by_time as (partition by node_id order by sampled_at)
),

glitch_checked as (
    -- a glitch: a negative counter, or a value whose steps from the sample
    -- before and to the sample after are both impossible while the step
    -- between those two neighbours is possible (a spike of +1e15, a dip to 0
    -- that is not a restart); its value is left out, the series goes on
    select
        *,
    {%- for counter, bound in counters.items() %}
        counter_form = 'cumulative' and (
            {{ counter }} < 0
            or (
                not {{ counter_can_step(
                        'before_' ~ counter, counter,
                        'before_sampled_at', 'sampled_at', bound
                    ) }}
                and not {{ counter_can_step(
                        counter, 'after_' ~ counter,
                        'sampled_at', 'after_sampled_at', bound
                    ) }}
                and {{ counter_can_step(
                        'before_' ~ counter, 'after_' ~ counter,
                        'before_sampled_at', 'after_sampled_at', bound
                    ) }}
            )
        ) as is_{{ counter }}_glitch
        {{- ',' if not loop.last }}
    {%- endfor %}
    from neighboured
),

kept as (
    select
        {%- for counter in counters %}
            case
                when not coalesce(is_{{ counter }}_glitch, false)
                    then {{ counter }}
            end as {{ counter }},
            coalesce({{ counter }}, {{ counter }}_given)
                as {{ counter }}_as_logged,
        {%- endfor %}
        {{ star_except(counters.keys()) }}
    from glitch_checked
),

valued as (
    select
        *,
        {%- for counter in counters %}
            -- the previous value this counter kept (glitches are skipped)
            {{ ignore_nulls('lag', counter) }} over by_time
                as previous_{{ counter }},
            {{ ignore_nulls(
                'lag',
                'case when ' ~ counter ~ ' is not null then sampled_at end'
            ) }} over by_time as previous_{{ counter }}_at,
        {%- endfor %}
        lag(counter_form) over by_time as previous_counter_form,
        lag(sampled_at) over by_time as previous_sampled_at,
        accounting_off_through
        - coalesce(lag(accounting_off_through) over by_time, 0)
            as accounting_off_samples_before
    from kept
    window by_time as (partition by node_id order by sampled_at)
),

stepped as (
    select
        *,
        {%- for counter in counters %}
            case
                when counter_form = 'deltas' then {{ counter }}_given
                when previous_counter_form = 'cumulative'
                    then {{ counter }} - previous_{{ counter }}
            end as {{ counter }}_step,
        {%- endfor %}
        {{ datediff_seconds('previous_sampled_at', 'sampled_at') }}
            as seconds_since_previous
    from valued
),

bounded as (
    -- a step upwards faster than the link can carry is not traffic: it is
    -- kept out of every sum (seed and exact) and listed
    select
        *,
    {%- for counter, bound in counters.items() %}
        coalesce({{ counter }}_step > {{ bound }} * greatest(
            {{ datediff_seconds(
                'coalesce(previous_' ~ counter ~ '_at, previous_sampled_at)',
                'sampled_at'
            ) }},
            1
            ), false) as is_{{ counter }}_implausible_step
        {{- ',' if not loop.last }}
    {%- endfor %}
    from stepped
),

gapped as (
    select
        *,
        -- the collector was down: what the counters did meanwhile (and a
        -- restart among it) belongs to no hour we can name
        coalesce(
            seconds_since_previous > {{ var('max_collection_gap_seconds') }},
            false
        ) as is_collection_gap
    from bounded
),

final as (
    select
        node_id,
        sampled_at,
        sampled_at::date as sampled_date,
        previous_sampled_at,
        seconds_since_previous,
        accounting_off_samples_before,
        previous_sampled_at is not null
        and (
            seconds_since_previous > {{ var('max_sample_gap_seconds') }}
            or accounting_off_samples_before > 0
        ) as is_after_gap,
        is_collection_gap,
        counter_form,
        {%- for counter in counters %}
            {{ counter }},
            {{ counter }}_as_logged,
            previous_{{ counter }},
            coalesce(is_{{ counter }}_glitch, false) as is_{{ counter }}_glitch,
            is_{{ counter }}_implausible_step,
            case
                when not is_{{ counter }}_implausible_step
                    then {{ counter }}_step
            end as {{ counter }}_raw_diff,
            {{ counter }}_step < 0
            and not is_collection_gap as is_{{ counter }}_reset,
            -- exact: a counter that went down restarted from 0, so the traffic
            -- since the previous sample is at least the new value itself; a
            -- negative difference without the counters hides even that (0);
            -- across a collection gap nothing is booked
            case
                when is_collection_gap then null
                when is_{{ counter }}_implausible_step then null
                when {{ counter }}_step >= 0 then {{ counter }}_step
                when {{ counter }}_step < 0 and counter_form = 'cumulative'
                    then {{ counter }}
                when {{ counter }}_step < 0 then 0
            end as {{ counter }}_delta,
        {%- endfor %}
        source_file,
        loaded_at
    from gapped
    -- the baseline sample read before the first rebuilt day is not rebuilt
    where {{ rebuilt_rows(changes, 'sampled_at') }}
)

select * from final
