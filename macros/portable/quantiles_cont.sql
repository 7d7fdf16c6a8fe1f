{#- Several continuous quantiles of a group at once, as a list, each as
    quantile_cont computes it: one sort for them all. On DuckDB separate
    calls took three times as long for five fractions. Read an item with
    list_element (1-based). -#}
{% macro quantiles_cont(expr, fractions) -%}
    {{ return(adapter.dispatch('quantiles_cont', 'wirehouse')(expr, fractions)) }}
{%- endmacro %}

{% macro default__quantiles_cont(expr, fractions) -%}
    quantile_cont({{ expr }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{% macro spark__quantiles_cont(expr, fractions) -%}
    element_at(
        transform(
            array(array_sort(collect_list(cast({{ expr }} as double)))),
            sorted -> array(
                {%- for fraction in fractions %}
                {{ _spark_interpolated(fraction) }}{{ ',' if not loop.last }}
                {%- endfor %}
            )
        ),
        1
    )
{%- endmacro %}
