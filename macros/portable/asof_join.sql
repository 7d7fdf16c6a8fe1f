{#- A select joining each row of `left` to the row of `right` with the same
    `keys` (column names both have) and the latest `right_at` at or before
    its `left_at` (rows without one are dropped, as in an inner join). It
    returns `left_columns` and `right_columns` (lists of names, disjoint).
    `right` must hold one row per key and time: which of two rows with the
    same time an ASOF join takes is not defined.
    DuckDB: an ASOF join. Spark has none: both sides in one stream per key,
    ordered by time with the right rows first at equal times, each left row
    taking the last right row before it (a window, no range join). -#}
{% macro asof_join(left, right, keys, left_at, right_at, left_columns, right_columns) -%}
    {{ return(adapter.dispatch('asof_join', 'wirehouse')(
        left, right, keys, left_at, right_at, left_columns, right_columns
    )) }}
{%- endmacro %}

{% macro default__asof_join(
    left, right, keys, left_at, right_at, left_columns, right_columns
) -%}
    select
        {%- for column in left_columns %}
        {{ left }}.{{ column }},
        {%- endfor %}
        {%- for column in right_columns %}
        {{ right }}.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ left }}
    asof inner join {{ right }}
        on
        {%- for key in keys %}
            {{ left }}.{{ key }} = {{ right }}.{{ key }} and
        {%- endfor %}
            {{ left }}.{{ left_at }} >= {{ right }}.{{ right_at }}
{%- endmacro %}

{% macro spark__asof_join(
    left, right, keys, left_at, right_at, left_columns, right_columns
) -%}
    {%- set key_list = keys | join(', ') -%}
    select
        {%- for column in left_columns %}
        left_row.{{ column }},
        {%- endfor %}
        {%- for column in right_columns %}
        matched.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select
            is_left,
            left_row,
            last_value(right_row) ignore nulls over (
                partition by {{ key_list }}
                order by asof_at, is_left
                rows between unbounded preceding and current row
            ) as matched
        from (
            select
                {{ key_list }},
                {{ left_at }} as asof_at,
                true as is_left,
                struct({{ left_columns | join(', ') }}) as left_row,
                null as right_row
            from {{ left }}
            union all
            select
                {{ key_list }},
                {{ right_at }} as asof_at,
                false as is_left,
                null as left_row,
                struct({{ right_columns | join(', ') }}) as right_row
            from {{ right }}
        ) as stream
    ) as ordered
    where is_left and matched is not null
{%- endmacro %}
