{#- The n-th item of a list, counted from 1 (DuckDB list[n], Spark
    element_at; Spark's list[n] counts from 0) -#}
{% macro list_element(list, n) -%}
    {{ return(adapter.dispatch('list_element', 'wirehouse')(list, n)) }}
{%- endmacro %}

{% macro default__list_element(list, n) -%}
    {{ list }}[{{ n }}]
{%- endmacro %}

{% macro spark__list_element(list, n) -%}
    element_at({{ list }}, {{ n }})
{%- endmacro %}
