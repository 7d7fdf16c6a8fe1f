{#- The distinct non-NULL values of a group, sorted, as a list; an empty list
    (not NULL) when there are none. `condition` filters the rows. -#}
{% macro sorted_set_agg(expr, condition='true') -%}
    {{ return(adapter.dispatch('sorted_set_agg', 'wirehouse')(expr, condition)) }}
{%- endmacro %}

{% macro default__sorted_set_agg(expr, condition) -%}
    coalesce(
        list_sort(list_distinct(list({{ expr }}) filter (where {{ condition }}))),
        []
    )
{%- endmacro %}

{#- collect_set skips NULLs and gives [] for no rows -#}
{% macro spark__sorted_set_agg(expr, condition) -%}
    array_sort(collect_set({{ expr }}) filter (where {{ condition }}))
{%- endmacro %}
