{#- A window function that skips NULLs (lag, last_value, ...), to be followed
    by its OVER clause: DuckDB writes IGNORE NULLS inside the parentheses,
    Spark after them -#}
{% macro ignore_nulls(function, expr) -%}
    {{ return(adapter.dispatch('ignore_nulls', 'wirehouse')(function, expr)) }}
{%- endmacro %}

{% macro default__ignore_nulls(function, expr) -%}
    {{ function }}({{ expr }} ignore nulls)
{%- endmacro %}

{% macro spark__ignore_nulls(function, expr) -%}
    {{ function }}({{ expr }}) ignore nulls
{%- endmacro %}
