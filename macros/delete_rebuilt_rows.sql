{#- Pre-hook of the incremental Bitcoin models: delete the rows this build
    rebuilds (see nodes_changed), so the model's own select appends them
    again; nothing on a full build. Which rows: `time_column` at or after
    a changed node's first changed day; with `connections_from`, every
    connection with messages in such a day; with `kept_in`, connections no
    longer in that relation (ids of runs found anew). -#}
{% macro delete_rebuilt_rows(
    relations,
    source_time,
    time_column=none,
    connections_from=none,
    kept_in=none
) -%}
    {%- if is_incremental() -%}
        {%- set changes = nodes_changed(relations, source_time) -%}
        {%- set drops = [] -%}
        {%- if time_column is not none -%}
            {%- do drops.append(rebuilt_rows(changes, time_column)) -%}
        {%- endif -%}
        {%- if connections_from is not none -%}
            {%- do drops.append(rebuilt_connections(changes, connections_from)) -%}
        {%- endif -%}
        {%- if kept_in is not none and changes -%}
            {%- do drops.append(
                'connection_id not in (select connection_id from '
                ~ kept_in ~ ')'
            ) -%}
        {%- endif -%}
        delete from {{ this }} where {{ drops | join(' or ') }}
    {%- endif -%}
{%- endmacro %}
