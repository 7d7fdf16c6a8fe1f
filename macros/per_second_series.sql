{#- Gapless per-second counts with running totals, as CTEs ending in `series`: one row
    per group and second from the group's first to its last second (at most
    var bluetooth_series_max_seconds), zero where nothing was counted. `packets` is a
    relation with `second_at` and the `group_by` columns (no NULL keys); `counts` maps
    each output column to the condition a row must meet to be counted in it. -#}
{% macro per_second_series(packets, group_by, counts) -%}
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
            min(second_at)
            + to_seconds({{ var('bluetooth_series_max_seconds') }} - 1)
        ) as last_second_at
    from counted
    group by all
),

seconds as (
    select
        {{ keys }},
        unnest(
            generate_series(first_second_at, last_second_at, interval 1 second)
        ) as second_at
    from spans
),

series as (
    select
        {{ keys }},
        second_at,
        {%- for name in counts %}
            coalesce(counted.{{ name }}, 0) as {{ name }},
            sum(coalesce(counted.{{ name }}, 0)) over (
                partition by {{ keys }} order by second_at
            ) as cumulative_{{ name }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from seconds
    left join counted using ({{ keys }}, second_at)
)
{%- endmacro %}
