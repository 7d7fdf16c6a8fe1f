{#- Several continuous quantiles of a group at once, as a list (linear
    interpolation, like percentile_cont): one sort for them all on DuckDB,
    where separate percentile_cont calls took three times as long for five
    fractions. Read an item with list_element (1-based). -#}
{% macro quantiles_cont(expr, fractions) -%}
    {{ return(adapter.dispatch('quantiles_cont', 'wirehouse')(expr, fractions)) }}
{%- endmacro %}

{% macro default__quantiles_cont(expr, fractions) -%}
    quantile_cont({{ expr }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{% macro spark__quantiles_cont(expr, fractions) -%}
    percentile({{ expr }}, array({{ fractions | join(', ') }}))
{%- endmacro %}
