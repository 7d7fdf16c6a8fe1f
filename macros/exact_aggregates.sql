{#- Aggregates whose result does not depend on row order. A sum of doubles
    rounds differently as threads split the rows differently, so two builds
    of the same files could differ in the last bits. These sum in fixed
    point instead: exact, hence the same bits on every build, any thread
    count, DuckDB or Spark (both sum decimals exactly). -#}

{#- Mean of a double expression, each value rounded to 1e-9 of its unit
    first (a millisecond value to the femtosecond) -#}
{% macro exact_avg(expr) -%}
    {{ return(adapter.dispatch('exact_avg', 'wirehouse')(expr)) }}
{%- endmacro %}

{% macro default__exact_avg(expr) -%}
    avg(({{ expr }})::decimal(38, 9))::double
{%- endmacro %}

{#- Spark's avg of a decimal keeps 13 decimals (2.2984584880817 for
    2.2984584880817254). The exact sum divided in decimals to 20 places and
    made a double is the correctly rounded mean. DuckDB divides the exact sum
    in the x87's 80-bit long double and rounds that to a double: 1 ulp apart
    from the correctly rounded mean in about 1 group of 700 (the Spark lane
    reports such values apart from the differences). -#}
{% macro spark__exact_avg(expr) -%}
    cast(
        cast(sum(cast({{ expr }} as decimal(38, 9))) as decimal(24, 9))
        / cast(nullif(count({{ expr }}), 0) as decimal(10, 0))
        as double
    )
{%- endmacro %}

{#- Sum of a double expression, each value rounded to 1e-9 of its unit -#}
{% macro exact_sum(expr) -%}
    sum(({{ expr }})::decimal(38, 9))::double
{%- endmacro %}

{#- Population standard deviation of an integer expression from its exact
    count, sum and sum of squares (no rounding before the last division) -#}
{% macro exact_stddev_pop(expr) -%}
    sqrt(
        (
            count({{ expr }}) * sum(({{ expr }})::decimal(38, 0) * ({{ expr }}))
            - sum(({{ expr }})::decimal(38, 0)) * sum(({{ expr }})::decimal(38, 0))
        )::double
        / (count({{ expr }})::double * count({{ expr }}))
    )
{%- endmacro %}
