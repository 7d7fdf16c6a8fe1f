{#- Continuous quantile of a group (linear interpolation between the two
    nearest values), the same double on both engines. At rank
    r = (n - 1) * q, with lo and hi the values at floor(r) and ceil(r) and
    d = r - floor(r), DuckDB returns lo * (1 - d) + hi * d with the last
    multiply-add fused (fma(lo, 1 - d, hi * d): so its build here, checked on
    18,000 quantiles); Spark's percentile_cont rounds twice and is a bit off
    (383.99999999999994 for 384.0). So on Spark the group's values are sorted
    into an array and that formula applied, the fused step by Java's Math.fma
    (through reflect; its text is the double's shortest exact form). Like
    Spark's own percentile, this holds a group's values in memory. -#}
{% macro quantile_cont(expr, fraction) -%}
    {{ return(adapter.dispatch('quantile_cont', 'wirehouse')(expr, fraction)) }}
{%- endmacro %}

{% macro default__quantile_cont(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{% macro spark__quantile_cont(expr, fraction) -%}
    element_at(
        transform(
            array(array_sort(collect_list(cast({{ expr }} as double)))),
            sorted -> {{ _spark_interpolated(fraction) }}
        ),
        1
    )
{%- endmacro %}

{#- DuckDB's interpolation over `sorted`, a sorted array of doubles (items
    counted from 0); NULL when it is empty -#}
{% macro _spark_interpolated(fraction) -%}
    {%- set rank = '((size(sorted) - 1) * ' ~ fraction ~ 'D)' -%}
    {%- set d = '(' ~ rank ~ ' - floor(' ~ rank ~ '))' -%}
    case
        when size(sorted) > 0
            then cast(reflect(
                'java.lang.Math', 'fma',
                sorted[cast(floor({{ rank }}) as int)],
                1.0D - {{ d }},
                sorted[cast(ceil({{ rank }}) as int)] * {{ d }}
            ) as double)
    end
{%- endmacro %}
