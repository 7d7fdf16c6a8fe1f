{#- One row per item of a list of SQL expressions (NULL items included), as a
    select-list item -#}
{% macro unnest_list(items) -%}
    {{ return(adapter.dispatch('unnest_list', 'wirehouse')(items)) }}
{%- endmacro %}

{% macro default__unnest_list(items) -%}
    unnest([{{ items | join(', ') }}])
{%- endmacro %}

{% macro spark__unnest_list(items) -%}
    explode(array({{ items | join(', ') }}))
{%- endmacro %}
