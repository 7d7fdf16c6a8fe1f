{#- The msg_type values of seed bitcoin_message_types, sorted, read at compile
    time: the fixed column set of fct_peer_message_shares_wide. Empty while the
    seed is not built yet (parse, lint on a fresh warehouse); `dbt build` builds
    the seed before anything that calls this. -#}
{% macro bitcoin_message_types() %}
    {%- set relation = load_relation(ref('bitcoin_message_types')) -%}
    {%- if execute and relation is not none -%}
        {%- set query -%}
            select msg_type from {{ relation }} order by msg_type
        {%- endset -%}
        {{ return(run_query(query).columns[0].values() | list) }}
    {%- endif -%}
    {{ return([]) }}
{% endmacro %}
