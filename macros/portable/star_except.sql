{#- Every column of the FROM but the named ones, as a select-list item.
    DuckDB 2.0 accepts Spark's `* except (...)` too, but sqlfluff's DuckDB
    dialect parses only `* exclude (...)`, so each engine gets its own word. -#}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except', 'wirehouse')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}
