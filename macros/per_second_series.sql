{#- Gapless per-second counts with running totals, as CTEs ending in `series`: one row
    per group and second from the group's first to its last second (at most
    var bluetooth_series_max_seconds), zero where nothing was counted. `packets` is a
    relation with `second_at` and the `group_by` columns (no NULL keys); `counts` maps
    each output column to the condition a row must meet to be counted in it.
    Every row also has seconds_since_capture_start: seconds since the first second of
    any packet of its capture_id in `captures` (a relation of every packet), so captures
    far apart in time share one axis. -#}
{% macro per_second_series(packets, group_by, counts, captures) -%}
{%- set keys = group_by | join(', ') -%}
counted as (
    select
        {{ keys }},
        second_at,
        {%- for name, condition in counts.items() %}
            count(*) filter (where {{ condition }}) as {{ name }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from {{ packets }}
    where second_at is not null
    group by all
),

spans as (
    select
        {{ keys }},
        min(second_at) as first_second_at,
        least(
            max(second_at),
            {{ add_seconds(
                'min(second_at)', var('bluetooth_series_max_seconds') - 1
            ) }}
        ) as last_second_at
    from counted
    group by all
),

seconds as (
    select
        {{ keys }},
        {{ unnest_series(
            'first_second_at', 'last_second_at', 'interval 1 second'
        ) }} as second_at
    from spans
),

capture_starts as (
    select
        capture_id,
        min(second_at) as capture_first_second_at
    from {{ captures }}
    group by all
),

series as (
    select
        {{ keys }},
        second_at,
        {{ datediff_seconds(
            'capture_starts.capture_first_second_at', 'second_at'
        ) }} as seconds_since_capture_start,
        {%- for name in counts %}
            coalesce(counted.{{ name }}, 0) as {{ name }},
            sum(coalesce(counted.{{ name }}, 0)) over (
                partition by {{ keys }} order by second_at
            ) as cumulative_{{ name }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from seconds
    left join counted using ({{ keys }}, second_at)
    inner join capture_starts using (capture_id)
)
{%- endmacro %}
